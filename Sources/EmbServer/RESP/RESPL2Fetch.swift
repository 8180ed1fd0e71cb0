// The hit path's L2 lookups on the event loop: a read burst's owned L1 misses are asked of Redis
// over this loop's pipelined link, ONE MGET for the burst (hits are copied from the reply straight
// into the output by the caller; what Redis did not answer takes the async path, with its health
// checks, backoff, redirects, single-flight and the encoder).
//
// In cluster mode the keys are grouped by the master that owns their key's slot, in the node's one
// slot map (EmbRedis.SlotRouter, the one the hiredis threads use too), and each master gets one GET
// per distinct key, back to back in one write answered by one promise: one round trip per owner,
// all owners in flight at once, and nothing allocated per key but the reply. MGET is not used: a
// cluster takes it only for keys of one slot (CROSSSLOT otherwise), and a burst's keys are in as
// many slots as keys. Redirects are not followed here: a MOVED updates the shared map, an ASK is
// counted, and those keys (or a link's failure, reported to the router) go to the async path, whose
// hiredis threads follow redirects. Routing lives once.
import EmbHash
import EmbRedis
import EmbRESP
import NIOCore

/// This connection's links to its Redis (or its cluster's masters), and the burst lookups over them.
final class RESPL2Fetch {
    private let server: ServerContext
    /// This loop's pipelined link to the node's Redis, resolved once.
    private var redisLink: PeerLink?
    private var redisLinkResolved = false
    /// This loop's links to the masters of the node's Redis Cluster, resolved once each.
    private var clusterLinks: [RedisNodeAddress: PeerLink] = [:]
    /// The L2 key prefix as bytes, made once.
    private var cachedKeyPrefix: [UInt8]?

    init(server: ServerContext) { self.server = server }

    /// Whether lookups on `l2` can be made from `loop` (a link, or a cluster slot map).
    func isAvailable(_ l2: RedisL2, on loop: any EventLoop) -> Bool {
        l2.slotRouter != nil || self.link(on: loop) != nil
    }

    /// Looks up `keys` on `l2` from `loop`: per key, its value (a null or error reply included), or
    /// nil when it was not asked or its link failed (the async path asks again).
    func fetch(_ keys: [CacheKey], l2: RedisL2, on loop: any EventLoop) -> EventLoopFuture<[RESPValue?]> {
        let prefix = self.keyPrefix(l2)
        if let slots = l2.slotRouter { return self.fetchFromCluster(keys, slots: slots, prefix: prefix, on: loop) }
        guard let link = self.link(on: loop) else { return loop.makeSucceededFuture([RESPValue?](repeating: nil, count: keys.count)) }
        var command = ByteBuffer()
        command.reserveCapacity(16 + keys.count * (prefix.count + 40))
        command.writeArrayHeader(keys.count + 1)
        command.writeBulkString("MGET")
        for key in keys { command.writeBulkString(prefix: prefix, hex: key.hash) }
        return link.send(encoded: command).map { value -> [RESPValue?] in
            if case .array(let items?) = value, items.count == keys.count { return items }
            return [RESPValue?](repeating: nil, count: keys.count)
        }.recover { _ in [RESPValue?](repeating: nil, count: keys.count) }
    }

    /// This loop's link to the node's Redis; nil without L2.
    private func link(on loop: any EventLoop) -> PeerLink? {
        if !self.redisLinkResolved {
            self.redisLink = self.server.redisLink(on: loop)
            self.redisLinkResolved = true
        }
        return self.redisLink
    }

    /// The bytes every L2 key starts with (`emb:` by default).
    private func keyPrefix(_ l2: RedisL2) -> [UInt8] {
        if let prefix = self.cachedKeyPrefix { return prefix }
        let prefix = Array(l2.configuration.keyPrefix.utf8)
        self.cachedKeyPrefix = prefix
        return prefix
    }

    /// One master's part of a burst: its GETs, encoded, and how many.
    private struct MasterLookup {
        let master: RedisNodeAddress
        var command = ByteBuffer()
        var count = 0
    }

    /// Looks the keys up on the cluster's masters from this loop; see the file comment.
    private func fetchFromCluster(_ batch: [CacheKey], slots: SlotRouter, prefix: [UInt8], on loop: any EventLoop) -> EventLoopFuture<[RESPValue?]> {
        let map = slots.map
        var lookups: [MasterLookup] = []  // a few masters: found by a linear search
        var unavailable: [RedisNodeAddress] = []
        var asked: [Hash128: (lookup: Int, reply: Int)] = [:]
        asked.reserveCapacity(batch.count)
        // Per batch item: which lookup and which of its replies answers it (nil: no owner to ask now).
        var places = [(lookup: Int, reply: Int)?](repeating: nil, count: batch.count)
        for (i, item) in batch.enumerated() {
            let key = item.hash
            if let place = asked[key] {
                places[i] = place
                continue
            }
            guard let master = map.owner(ofSlot: Self.slot(of: key, prefix: prefix)), !unavailable.contains(master) else { continue }
            var index = lookups.firstIndex { $0.master == master }
            if index == nil {
                guard slots.isAvailable(master) else {
                    unavailable.append(master)
                    continue
                }
                lookups.append(MasterLookup(master: master))
                index = lookups.count - 1
            }
            let l = index!
            lookups[l].command.writeArrayHeader(2)
            lookups[l].command.writeBulkString("GET")
            lookups[l].command.writeBulkString(prefix: prefix, hex: key)
            let place = (lookup: l, reply: lookups[l].count)
            lookups[l].count += 1
            asked[key] = place
            places[i] = place
        }
        let futures = lookups.map { lookup -> EventLoopFuture<RESPValue> in
            self.clusterLink(to: lookup.master, on: loop).send(encoded: lookup.command, replies: lookup.count)
        }
        let (itemPlaces, masters) = (places, lookups.map { (master: $0.master, count: $0.count) })
        return EventLoopFuture.whenAllComplete(futures, on: loop).map { results in
            // Per lookup, one value per GET (nil: an error reply); nil for all when the link failed.
            let replies = zip(masters, results).map { (sent, result) -> [RESPValue?]? in
                let values: [RESPValue]
                switch result {
                case .success(.array(let all?)) where sent.count > 1 && all.count == sent.count: values = all
                case .success(let one) where sent.count == 1: values = [one]
                case .success: return nil
                case .failure:
                    slots.noteFailure(sent.master)
                    return nil
                }
                return values.map { value in
                    guard case .error(let message) = value else { return value }
                    // MOVED (the map learns the new owner) or ASK; TRYAGAIN, CLUSTERDOWN: the async path retries.
                    if let redirect = ClusterRedirect.parse(message) { slots.note(redirect) }
                    return nil
                }
            }
            return itemPlaces.map { place in place.flatMap { replies[$0.lookup]?[$0.reply] } }
        }
    }

    /// This loop's link to `master`, made once per connection.
    private func clusterLink(to master: RedisNodeAddress, on loop: any EventLoop) -> PeerLink {
        if let link = self.clusterLinks[master] { return link }
        let link = self.server.redisLink(to: master, on: loop)
        self.clusterLinks[master] = link
        return link
    }

    /// The cluster slot of the L2 key `prefix` + the 32 hex digits of `key`.
    static func slot(of key: Hash128, prefix: [UInt8]) -> Int {
        withUnsafeTemporaryAllocation(byteCount: prefix.count + 32, alignment: 1) { bytes in
            prefix.withUnsafeBytes { bytes.copyMemory(from: $0) }
            key.writeHex(into: UnsafeMutableRawBufferPointer(rebasing: bytes[prefix.count...]))
            return KeySlot.of(UnsafeRawBufferPointer(bytes))
        }
    }
}

extension ByteBuffer {
    /// A bulk string of `prefix` and the 32 hex digits of `key` (an L2 key: `emb:<key hex>`), written
    /// in place: a String per key cost more than the rest of the MGET.
    mutating func writeBulkString(prefix: [UInt8], hex key: Hash128) {
        self.writeBulkString(byteCount: prefix.count + 32) { out in
            prefix.withUnsafeBytes { out.copyMemory(from: $0) }
            key.writeHex(into: UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]))
        }
    }
}
