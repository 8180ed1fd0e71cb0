// The hit path's L2 lookups in cluster mode. The burst's owned L1 misses are grouped by slot, with
// the node's one slot map (EmbRedis.SlotRouter, the one the hiredis threads use too), and each group
// is sent on this loop's link to the slot's master: a GET for a lone key, one MGET for the distinct
// keys of a slot (a cluster takes an MGET only within one slot: CROSSSLOT otherwise). Every master's
// commands go out in one flush: one round trip per owner, all in flight at once. Redirects are not
// followed here: a MOVED updates the shared map, an ASK is counted, and those keys (or a link's
// failure, reported to the router) go to the async path, whose hiredis threads follow redirects.
// Routing lives once.
import EmbHash
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// The keys of one slot in a burst: the distinct keys, and for each batch item its key's place.
    private struct SlotGroup {
        let master: RedisNodeAddress
        var keys: [Hash128] = []
    }

    /// Looks the batch up on the cluster's masters from this loop; see the file comment.
    func fetchDeferredFromCluster(_ batch: [DeferredText], slots: SlotRouter, prefix: [UInt8], context: ChannelHandlerContext) {
        let map = slots.map
        var groups: [Int: SlotGroup] = [:]
        // Per batch item: its slot and its key's position in the group (nil: no owner to ask now).
        var places = [(slot: Int, position: Int)?](repeating: nil, count: batch.count)
        for (i, item) in batch.enumerated() {
            let slot = Self.slot(of: item.known.key.hash, prefix: prefix)
            guard let master = map.owner(ofSlot: slot), slots.isAvailable(master) else { continue }
            var group = groups[slot] ?? SlotGroup(master: master)
            let position = group.keys.firstIndex(of: item.known.key.hash) ?? group.keys.count
            if position == group.keys.count { group.keys.append(item.known.key.hash) }
            groups[slot] = group
            places[i] = (slot, position)
        }
        var links: [RedisNodeAddress: PeerLink] = [:]
        var sent: [(slot: Int, master: RedisNodeAddress, future: EventLoopFuture<RESPValue>)] = []
        for (slot, group) in groups {
            if links[group.master] == nil { links[group.master] = self.server.redisLink(to: group.master, on: context.eventLoop) }
            guard let link = links[group.master] else { continue }
            var command = ByteBuffer()
            command.reserveCapacity(16 + group.keys.count * (prefix.count + 40))
            command.writeArrayHeader(group.keys.count + 1)
            command.writeBulkString(group.keys.count == 1 ? "GET" : "MGET")
            for key in group.keys { command.writeBulkString(prefix: prefix, hex: key) }
            sent.append((slot, group.master, link.send(encoded: command)))
        }
        let asked = sent.map { (slot: $0.slot, master: $0.master, keys: groups[$0.slot]!.keys.count) }
        let itemPlaces = places
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let started = DispatchTime.now().uptimeNanoseconds
        EventLoopFuture.whenAllComplete(sent.map(\.future), on: context.eventLoop).whenSuccess { results in
            let (handler, context) = bound.value
            var answers: [Int: [RESPValue]] = [:]  // per slot, one value per distinct key
            var failed = Set<RedisNodeAddress>()
            for ((slot, master, keys), result) in zip(asked, results) {
                switch result {
                case .success(.error(let message)):
                    // MOVED (the map learns the new owner) or ASK; TRYAGAIN, CLUSTERDOWN: the async path retries.
                    if let redirect = ClusterRedirect.parse(message) { slots.note(redirect) }
                case .success(.array(let values?)) where keys > 1:
                    if values.count == keys { answers[slot] = values }
                case .success(let value) where keys == 1:
                    answers[slot] = [value]
                case .success:
                    break
                case .failure:
                    failed.insert(master)
                }
            }
            for master in failed { slots.noteFailure(master) }
            let values = itemPlaces.map { place in place.flatMap { answers[$0.slot]?[$0.position] } }
            handler.answerFromL2(batch, values: values, since: started, context: context)
        }
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
