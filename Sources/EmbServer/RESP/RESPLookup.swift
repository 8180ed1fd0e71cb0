// The full lookup path of RESP requests, off the event loop: the lane's `embed` (L1, the owner or a
// peer, L2, single-flight, the encoder), with the metrics of what answered, rendered as the reply
// the command wants. Runs in a Task started by RESPConnectionHandler.runAsync, which slots the
// replies back in order.
import EmbNode
import Foundation
import NIOCore

enum RESPLookup {
    /// What a lookup answers with: the vectors (an array, or one bulk string for EMBED), the vectors
    /// and the owner's tier codes (a peer's PEER.MEMBED, see PeerTiers), or the tiers.
    enum Reply: Sendable { case vector, vectors, peerVectors, tiers }

    /// One reply for `texts`, shaped as `kind`; each vector cut to `width` when asked.
    static func one(_ texts: [[UInt8]], kind: Reply, forwarded: Bool, lane: EmbeddingNode, metrics: NodeMetrics,
                    account: CallerAccount?, width: OutputWidth?) async -> ByteBuffer {
        let start = DispatchTime.now().uptimeNanoseconds
        var reply = ByteBuffer()
        do {
            let results = try await lane.embed(texts, forwarded: forwarded, account: account)
            if kind != .vector { reply.writeArrayHeader(kind == .peerVectors ? results.count + 1 : results.count) }
            for r in results {
                if kind == .tiers {
                    reply.writeBulkString(r.tier.rawValue)
                } else if let width {
                    r.vector.withUnsafeBytes(width.cut).withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                } else {
                    r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                }
            }
            if kind == .peerVectors { results.map { PeerTiers.code($0.tier) }.withUnsafeBytes { reply.writeBulkString(bytes: $0) } }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for tier in Tier.allCases {
                let n = results.filter { $0.tier == tier }.count
                if n > 0 { metrics.answered(tier, count: n, seconds: seconds) }
            }
        } catch {
            reply = RESPReply.nodeError(error)
        }
        return reply
    }

    /// The replies of a burst's deferred EMBEDs, one per text, looked up as one batch. If the batch
    /// fails as a whole (one text is invalid), each text is retried alone so every request gets its
    /// own answer.
    static func each(_ texts: [[UInt8]], lane: EmbeddingNode, metrics: NodeMetrics, l2Missed: Bool, account: CallerAccount) async -> [ByteBuffer] {
        let start = DispatchTime.now().uptimeNanoseconds
        var replies: [ByteBuffer] = []
        do {
            let results = try await lane.embed(texts, l2Missed: l2Missed, account: account)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for r in results {
                var reply = ByteBuffer()
                r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                replies.append(reply)
                metrics.answered(r.tier, count: 1, seconds: seconds)
            }
        } catch {
            replies = []
            for text in texts {
                var reply = ByteBuffer()
                do {
                    let r = try await lane.embed([text], l2Missed: l2Missed, account: account)[0]
                    r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                } catch {
                    reply = RESPReply.nodeError(error)
                }
                replies.append(reply)
            }
        }
        return replies
    }
}
