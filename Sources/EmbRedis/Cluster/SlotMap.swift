// Which master serves each of the 16384 slots, read from `CLUSTER SLOTS` (Redis 3 to 7 answer it;
// CLUSTER SHARDS is 7.0+ only and says the same for routing). A value: the router swaps whole maps
// under its lock, and a reader takes one snapshot per batch and looks slots up without a lock.

/// A slot table: slot → master, plus every node the cluster named (replicas too: after a failover
/// one of them is the master to ask for the next map).
public struct SlotMap: Sendable, Equatable {
    /// The masters, in the order first seen; a slot's owner is an index into this.
    public private(set) var masters: [RedisNodeAddress] = []
    /// Masters and replicas, for refreshing the map when the masters do not answer.
    public private(set) var nodes: [RedisNodeAddress] = []
    /// Per slot, the index of its master in `masters`; `unowned` when no master serves it.
    private var owners = [UInt16](repeating: SlotMap.unowned, count: KeySlot.count)
    private static let unowned = UInt16.max

    /// A map with no slot served.
    public init() {}

    /// The master serving `slot`; nil when none does.
    @inline(__always)
    public func owner(ofSlot slot: Int) -> RedisNodeAddress? {
        let i = self.owners[slot]
        return i == Self.unowned ? nil : self.masters[Int(i)]
    }

    /// Slots with an owner (16384 when the cluster covers them all).
    public var coveredSlots: Int { self.owners.reduce(0) { $0 + ($1 == Self.unowned ? 0 : 1) } }

    /// Slots each master serves, in `masters` order.
    public var slotsPerMaster: [Int] {
        var counts = [Int](repeating: 0, count: self.masters.count)
        for i in self.owners where i != Self.unowned { counts[Int(i)] += 1 }
        return counts
    }

    /// Gives `slot` to `node` (a MOVED reply): the slot's new owner is known before the next map is.
    public mutating func assign(slot: Int, to node: RedisNodeAddress) {
        self.owners[slot] = UInt16(self.index(of: node))
    }

    private mutating func index(of master: RedisNodeAddress) -> Int {
        if let i = self.masters.firstIndex(of: master) { return i }
        self.masters.append(master)
        if !self.nodes.contains(master) { self.nodes.append(master) }
        return self.masters.count - 1
    }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replica…], …]`. A host of
    /// "" (or "?") means "the node that answered", which `askedNode` names.
    public static func parse(clusterSlots reply: RedisReply, askedNode: RedisNodeAddress) throws(SlotMapError) -> SlotMap {
        if case .error(let message) = reply { throw SlotMapError("the node refused CLUSTER SLOTS: \(message)") }
        guard case .array(let ranges) = reply else { throw SlotMapError("CLUSTER SLOTS did not answer an array") }
        var map = SlotMap()
        for range in ranges {
            guard case .array(let fields) = range, fields.count >= 3, case .integer(let start) = fields[0], case .integer(let end) = fields[1],
                0 <= start, start <= end, end < KeySlot.count
            else { throw SlotMapError("a CLUSTER SLOTS range is malformed") }
            let servers = try fields[2...].map { field throws(SlotMapError) in try Self.node(field, askedNode: askedNode) }
            let master = map.index(of: servers[0])
            for replica in servers.dropFirst() where !map.nodes.contains(replica) { map.nodes.append(replica) }
            for slot in start...end { map.owners[slot] = UInt16(master) }
        }
        return map
    }

    private static func node(_ field: RedisReply, askedNode: RedisNodeAddress) throws(SlotMapError) -> RedisNodeAddress {
        guard case .array(let parts) = field, parts.count >= 2, case .integer(let port) = parts[1], (1...65535).contains(port) else {
            throw SlotMapError("a CLUSTER SLOTS node is malformed")
        }
        let host: String
        switch parts[0] {
        case .string(let bytes): host = String(decoding: bytes, as: UTF8.self)
        case .status(let text): host = text
        default: throw SlotMapError("a CLUSTER SLOTS node has no host")
        }
        return RedisNodeAddress(host: host.isEmpty || host == "?" ? askedNode.host : host, port: port)
    }
}

/// Why a slot map could not be read.
public struct SlotMapError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}
