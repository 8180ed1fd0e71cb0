// The two redirections of Redis Cluster, as error replies: `-MOVED 3999 127.0.0.1:6381` (the slot
// has a new owner: update the map, retry there) and `-ASK 3999 127.0.0.1:6381` (the slot is being
// migrated and this key is already on the target: send ASKING then the command there, once, and keep
// the map as it is). Parsed the same way by the hiredis threads and the event-loop links.

/// A MOVED or ASK error reply.
public struct ClusterRedirect: Sendable, Equatable {
    public enum Kind: String, Sendable { case moved = "MOVED", ask = "ASK" }
    public var kind: Kind
    public var slot: Int
    public var node: RedisNodeAddress

    public init(_ kind: Kind, slot: Int, node: RedisNodeAddress) {
        (self.kind, self.slot, self.node) = (kind, slot, node)
    }

    /// The redirect an error reply names; nil for any other error or a malformed one. The host may be
    /// an IPv6 address (`MOVED 1 ::1:7000`): the port follows the last colon.
    public static func parse(_ error: String) -> ClusterRedirect? {
        let parts = error.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, let kind = Kind(rawValue: String(parts[0])),
            let slot = Int(parts[1]), (0..<KeySlot.count).contains(slot),
            let node = RedisNodeAddress.parse(parts[2])
        else { return nil }
        return ClusterRedirect(kind, slot: slot, node: node)
    }
}

/// One Redis server of a cluster, as `host:port`.
public struct RedisNodeAddress: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        (self.host, self.port) = (host, port)
    }

    /// `host:port`, the port after the last colon; nil unless the port is 1…65535 and the host non-empty.
    public static func parse(_ text: some StringProtocol) -> RedisNodeAddress? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        return RedisNodeAddress(host: String(text[..<colon]), port: port)
    }

    public var description: String { "\(self.host):\(self.port)" }

    public static func < (a: RedisNodeAddress, b: RedisNodeAddress) -> Bool { (a.host, a.port) < (b.host, b.port) }
}
