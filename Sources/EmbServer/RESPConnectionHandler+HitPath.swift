// The cache-hit path of EMBED, which is most of a node's traffic and must keep up with Redis GET.
//
// A pipelined burst of `EMBED <text>` requests is answered straight from the receive buffer: the
// frame is recognised in place (RESPFastFrame), the text's key comes from the connection's memo
// (KnownKeyMemo) or the node's alias table, and the vector is copied from L1 into the output buffer
// under the shard lock. No frame, no argument array, no task. Counters are kept per burst and added
// to the shared metrics once at its end; the clock is read once per burst. The first request that
// is not such a hit (another command, a miss, a frame cut across reads, replies still pending) ends
// the fast run and goes, with everything after it, through RESPParser and `run`.
import EmbHash
import EmbNode
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// Answers the hits at the front of `buffer`, consuming their bytes.
    func serveLeadingHits(_ buffer: inout ByteBuffer) {
        guard self.authenticated, self.canWriteDirectly(self.nextSequence), !self.isClosing else { return }
        let maxText = self.parserLimits.maxBulkLength
        let consumed = buffer.withUnsafeReadableBytes { all -> Int in
            var offset = 0
            while offset < all.count {
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                guard let frame = RESPFastFrame.twoArguments(rest, upperName: "EMBED", maxArgument: maxText),
                    self.serveHit(UnsafeRawBufferPointer(rebasing: rest[frame.argument]), sequence: self.nextSequence)
                else { break }
                self.nextSequence += 1
                self.burstCounts.requests += 1
                offset += frame.length
            }
            return offset
        }
        guard consumed > 0 else { return }
        buffer.moveReaderIndex(forwardBy: consumed)
    }

    /// Serves `text` from L1 (or the hot cache) into the output as reply `sequence`, if it is a hit on
    /// a known text and no earlier reply is pending. False: nothing was written or counted.
    func serveHit(_ text: UnsafeRawBufferPointer, sequence: Int) -> Bool {
        guard self.canWriteDirectly(sequence) else { return false }
        let node = self.server.node
        let textHash = EmbeddingNode.textHash(text)
        let key: CacheKey
        if let remembered = self.knownKeys.key(textHash) {
            key = remembered
        } else if let known = node.knownKey(textHash: textHash) {
            self.knownKeys.remember(textHash, known)
            key = known
        } else {
            return false
        }
        let now = self.burstClock()
        self.l1Hits &+= 1
        // Hits are timed one in `l1LatencySampling`: two clock reads per hit cost more than the hit.
        let timed = self.l1Hits % Self.l1LatencySampling == 0
        let start = timed ? DispatchTime.now().uptimeNanoseconds : 0
        guard let tier = node.serveKnown(key, text: text, now: now, { vector in self.output.writeBulkString(bytes: vector) })
        else { return false }
        if timed { self.l1Latency.record(.nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))) }
        self.writeSequence += 1
        if tier == .hot { self.burstCounts.hot += 1 } else { self.burstCounts.l1 += 1 }
        return true
    }

    /// The node's clock, read once per read burst (TTLs are seconds; a burst is microseconds).
    func burstClock() -> Double {
        if let now = self.burstNow { return now }
        let now = self.server.node.now()
        self.burstNow = now
        return now
    }

    /// Adds the burst's hits to the shared counters, once, and forgets the burst's clock reading.
    func commitBurst() {
        self.burstNow = nil
        let (requests, l1, hot) = self.burstCounts
        guard requests + l1 + hot > 0 else { return }
        self.burstCounts = (0, 0, 0)
        if requests > 0 {
            self.embedRequests.increment(by: Int64(requests))
            self.callerRequests.increment(by: Int64(requests))
        }
        if l1 > 0 { self.l1Results.increment(by: Int64(l1)) }
        if hot > 0 { self.server.metrics.tierCounter(.hot).increment(by: Int64(hot)) }
        self.server.node.countServed(.l1, l1)
        self.server.node.countServed(.hot, hot)
    }
}
