// The hit path's L2 lookups in cluster mode. The burst's owned L1 misses are grouped by the master
// that owns their key's slot, in the node's one slot map (EmbRedis.SlotRouter, the one the hiredis
// threads use too), and each master gets one GET per distinct key, back to back in one write
// answered by one promise: one round trip per owner, all owners in flight at once, and nothing
// allocated per key but the reply. MGET is not used: a cluster takes it only for keys of one slot
// (CROSSSLOT otherwise), and a burst's keys are in as many slots as keys. Redirects are not
// followed here: a MOVED updates the shared map, an ASK is counted, and those keys (or a link's
// failure, reported to the router) go to the async path, whose hiredis threads follow redirects.
// Routing lives once.
import EmbHash
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// One master's part of a burst: its GETs, encoded, and how many.
    private struct MasterLookup {
        let master: RedisNodeAddress
        var command = ByteBuffer()
        var count = 0
    }

    /// Looks the batch up on the cluster's masters from this loop; see the file comment.
    func fetchDeferredFromCluster(_ batch: [DeferredText], slots: SlotRouter, prefix: [UInt8], context: ChannelHandlerContext) {
        let map = slots.map
        var lookups: [MasterLookup] = []  // a few masters: found by a linear search
        var unavailable: [RedisNodeAddress] = []
        var asked: [Hash128: (lookup: Int, reply: Int)] = [:]
        asked.reserveCapacity(batch.count)
        // Per batch item: which lookup and which of its replies answers it (nil: no owner to ask now).
        var places = [(lookup: Int, reply: Int)?](repeating: nil, count: batch.count)
        for (i, item) in batch.enumerated() {
            let key = item.known.key.hash
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
            self.clusterLink(to: lookup.master, context: context).send(encoded: lookup.command, replies: lookup.count)
        }
        let (itemPlaces, masters) = (places, lookups.map { (master: $0.master, count: $0.count) })
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let started = DispatchTime.now().uptimeNanoseconds
        EventLoopFuture.whenAllComplete(futures, on: context.eventLoop).whenSuccess { results in
            let (handler, context) = bound.value
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
            let values = itemPlaces.map { place in place.flatMap { replies[$0.lookup]?[$0.reply] } }
            handler.answerFromL2(batch, values: values, since: started, context: context)
        }
    }

    /// This loop's link to `master`, made once per handler.
    private func clusterLink(to master: RedisNodeAddress, context: ChannelHandlerContext) -> PeerLink {
        if let link = self.clusterLinks[master] { return link }
        let link = self.server.redisLink(to: master, credentials: self.server.node.l2?.configuration.credentials, on: context.eventLoop)
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
