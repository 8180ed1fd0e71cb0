// The hit path's L2 lookups in cluster mode. The burst's owned L1 misses are grouped by the master
// that owns their slot in the node's one slot map (EmbRedis.SlotRouter, the one the hiredis threads
// use too) and sent as pipelined GETs on this loop's link to each master: one round trip per owner,
// all in flight at once. MGET is not used: a cluster refuses it for keys of different slots
// (CROSSSLOT), and the keys of a burst are spread over all slots. Redirects are not followed here:
// a MOVED updates the shared map, an ASK is counted, and either key (or a link failure, reported to
// the router) goes to the async path, whose hiredis threads follow redirects. Routing lives once.
import EmbHash
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// Looks the batch up on the cluster's masters from this loop; see the file comment.
    func fetchDeferredFromCluster(_ batch: [DeferredText], slots: SlotRouter, prefix: [UInt8], context: ChannelHandlerContext) {
        let map = slots.map
        var futures: [EventLoopFuture<RESPValue>] = []
        var asked: [(index: Int, master: RedisNodeAddress)] = []
        futures.reserveCapacity(batch.count)
        var links: [RedisNodeAddress: PeerLink] = [:]
        for (i, item) in batch.enumerated() {
            var command = ByteBuffer()
            command.reserveCapacity(32 + prefix.count)
            command.writeArrayHeader(2)
            command.writeBulkString("GET")
            command.writeBulkString(prefix: prefix, hex: item.known.key.hash)
            // The key is the last 4 + 32 bytes of the command (`emb:<hex>`; it has no hash tag).
            let slot = command.withUnsafeReadableBytes { KeySlot.of(UnsafeRawBufferPointer(rebasing: $0[($0.count - 2 - prefix.count - 32)..<($0.count - 2)])) }
            guard let master = map.owner(ofSlot: slot), slots.isAvailable(master) else { continue }
            if links[master] == nil { links[master] = self.server.redisLink(to: master, on: context.eventLoop) }
            guard let link = links[master] else { continue }
            futures.append(link.send(encoded: command))
            asked.append((i, master))
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let sent = DispatchTime.now().uptimeNanoseconds
        EventLoopFuture.whenAllComplete(futures, on: context.eventLoop).whenSuccess { results in
            let (handler, context) = bound.value
            var values = [RESPValue?](repeating: nil, count: batch.count)
            var failed = Set<RedisNodeAddress>()
            for ((index, master), result) in zip(asked, results) {
                switch result {
                case .success(.error(let message)):
                    // MOVED (the map learns the new owner) or ASK; TRYAGAIN, CLUSTERDOWN: the async path retries.
                    if let redirect = ClusterRedirect.parse(message) { slots.note(redirect) }
                case .success(let value):
                    values[index] = value
                case .failure:
                    failed.insert(master)
                }
            }
            for master in failed { slots.noteFailure(master) }
            handler.answerFromL2(batch, values: values, since: sent, context: context)
        }
    }
}
