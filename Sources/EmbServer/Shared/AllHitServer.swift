// A request of several texts (RESP MEMBED, a peer's PEER.MEMBED, HTTP POST /v1/embeddings) answered
// on the event loop when every text is a cache hit: each vector is copied from L1 (or the hot
// cache) straight into the reply being written, under the shard lock. No task, no thread hop. On
// the first text that is not a hit, the writer index goes back to where it was and the caller takes
// the full lookup path: nothing was sent and nothing counted. Both doors use this one loop; only
// the framing of each vector (a RESP bulk string, a JSON array or base64 string) differs.
import EmbHash
import EmbNode
import NIOCore

/// A text answered from cache: the tier that answered and its key and token count.
package typealias CacheHit = (tier: Tier, known: KnownText)

/// What an all-hit answer served.
package struct AllHits {
    package var counts = HitCounts()
    /// Each text's tier and key, in order, when asked for (the audit log, the overlap sample).
    package var answers: [CacheHit] = []
}

package enum AllHitServer {
    /// Writes `count` hits into `buffer`, text `i` by `hit(i, &buffer)` (which writes the vector and
    /// returns its tier, or nil on a miss having written nothing). Nil on the first miss, with
    /// `buffer` rolled back to its writer index on entry. `keepAnswers`: fill `AllHits.answers`.
    @inline(__always)
    package static func serve(count: Int, into buffer: inout ByteBuffer, keepAnswers: Bool,
                              _ hit: (Int, inout ByteBuffer) -> CacheHit?) -> AllHits? {
        let start = buffer.writerIndex
        var served = AllHits()
        if keepAnswers { served.answers.reserveCapacity(count) }
        for i in 0..<count {
            guard let answer = hit(i, &buffer) else {
                buffer.moveWriterIndex(to: start)
                return nil
            }
            served.counts.hit(hot: answer.tier == .hot, tokens: answer.known.tokens)
            if keepAnswers { served.answers.append(answer) }
        }
        return served
    }

    /// One known text's vector from `lane`'s L1 (or, unless `owned`, the hot cache for a key another
    /// node owns), framed into `buffer` by `frame`. `owned`: a peer forwarded it to its owner (here).
    @inline(__always)
    package static func hit(_ known: KnownText?, text: UnsafeRawBufferPointer, lane: EmbeddingNode, now: Double, owned: Bool,
                            into buffer: inout ByteBuffer, _ frame: (UnsafeRawBufferPointer, inout ByteBuffer) -> Void) -> CacheHit? {
        guard let known, let tier = lane.serveKnown(known.key, text: text, now: now, owned: owned, { frame($0, &buffer) }) else { return nil }
        return (tier, known)
    }
}
