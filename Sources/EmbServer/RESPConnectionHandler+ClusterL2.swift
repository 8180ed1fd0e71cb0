// The hit path's L2 lookups in cluster mode. The burst's owned L1 misses are grouped by slot, with
// the node's one slot map (EmbRedis.SlotRouter, the one the hiredis threads use too), and each group
// is sent on this loop's link to the slot's master: a GET for a lone key, one MGET for the distinct
// keys of a slot (a cluster takes an MGET only within one slot: CROSSSLOT otherwise). A master's
// commands go out back to back in one write, answered by one promise: one round trip per owner,
// all owners in flight at once. Redirects are not
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
        var available: [RedisNodeAddress: Bool] = [:]
        var groups: [Int: SlotGroup] = [:]
        // Per batch item: its slot and its key's position in the group (nil: no owner to ask now).
        var places = [(slot: Int, position: Int)?](repeating: nil, count: batch.count)
        for (i, item) in batch.enumerated() {
            let slot = Self.slot(of: item.known.key.hash, prefix: prefix)
            guard let master = map.owner(ofSlot: slot) else { continue }
            if available[master] == nil { available[master] = slots.isAvailable(master) }
            guard available[master]! else { continue }
            var group = groups[slot] ?? SlotGroup(master: master)
            let position = group.keys.firstIndex(of: item.known.key.hash) ?? group.keys.count
            if position == group.keys.count { group.keys.append(item.known.key.hash) }
            groups[slot] = group
            places[i] = (slot, position)
        }
        // Per master, its slots' commands back to back, sent as one write answered by one promise.
        var perMaster: [RedisNodeAddress: (slots: [Int], command: ByteBuffer)] = [:]
        for (slot, group) in groups {
            var entry = perMaster[group.master] ?? ([], ByteBuffer())
            entry.slots.append(slot)
            entry.command.writeArrayHeader(group.keys.count + 1)
            entry.command.writeBulkString(group.keys.count == 1 ? "GET" : "MGET")
            for key in group.keys { entry.command.writeBulkString(prefix: prefix, hex: key) }
            perMaster[group.master] = entry
        }
        var asked: [(master: RedisNodeAddress, slots: [(slot: Int, keys: Int)])] = []
        var futures: [EventLoopFuture<RESPValue>] = []
        for (master, entry) in perMaster {
            guard let link = self.server.redisLink(to: master, on: context.eventLoop) else { continue }
            futures.append(link.send(encoded: entry.command, replies: entry.slots.count))
            asked.append((master, entry.slots.map { ($0, groups[$0]!.keys.count) }))
        }
        let (itemPlaces, askedSlots) = (places, asked)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let started = DispatchTime.now().uptimeNanoseconds
        EventLoopFuture.whenAllComplete(futures, on: context.eventLoop).whenSuccess { results in
            let (handler, context) = bound.value
            var answers: [Int: [RESPValue]] = [:]  // per slot, one value per distinct key
            for ((master, slotsAsked), result) in zip(askedSlots, results) {
                guard case .success(let reply) = result else {
                    slots.noteFailure(master)
                    continue
                }
                let replies: [RESPValue]
                if slotsAsked.count == 1 {
                    replies = [reply]
                } else if case .array(let all?) = reply {
                    replies = all
                } else {
                    continue
                }
                for ((slot, keys), value) in zip(slotsAsked, replies) {
                    switch value {
                    case .error(let message):
                        // MOVED (the map learns the new owner) or ASK; TRYAGAIN, CLUSTERDOWN: the async path retries.
                        if let redirect = ClusterRedirect.parse(message) { slots.note(redirect) }
                    case .array(let values?) where keys > 1 && values.count == keys:
                        answers[slot] = values
                    case _ where keys == 1:
                        answers[slot] = [value]
                    default:
                        break
                    }
                }
            }
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
