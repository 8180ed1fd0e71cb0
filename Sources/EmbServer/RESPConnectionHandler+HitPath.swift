// The cache-hit path of EMBED, which is most of a node's traffic and must keep up with Redis GET.
//
// A pipelined burst of `EMBED <text>` requests is answered straight from the receive buffer: the
// frame is recognised in place (RESPFastFrame), the text's key comes from the connection's memo
// (KnownKeyMemo) or the node's alias table, and the vector is copied from L1 into the output buffer
// under the shard lock. No frame, no argument array, no task. A known key this node owns that
// misses L1 joins the burst's one MGET to Redis on this loop's link (`fetchDeferredFromL2`). Counters
// are kept per burst and added to the shared metrics once at its end; the clock is read once per
// burst. The first request that is none of these (another command, an unknown text, a key another
// node owns, a frame cut across reads) ends the fast run and goes, with everything after it,
// through RESPParser and `run`.
import EmbHash
import EmbModel
import EmbNode
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// Answers the EMBEDs at the front of `buffer` that are hits or owned L2 lookups, consuming them.
    func serveLeadingHits(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        // A query/passage prefix must be put before each text first: such connections take the parser.
        guard self.authenticated, !self.isClosing, self.selection.prefix.isEmpty else { return }
        let maxText = self.parserLimits.maxBulkLength
        let consumed = buffer.withUnsafeReadableBytes { all -> Int in
            var offset = 0
            while offset < all.count {
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                if let frame = RESPFastFrame.twoArguments(rest, upperName: "EMBED", maxArgument: maxText) {
                    let text = UnsafeRawBufferPointer(rebasing: rest[frame.argument])
                    guard let known = self.knownKey(text), self.serveKnownText(known, text: text, sequence: self.nextSequence, context: context)
                    else { break }
                    self.burstCounts.requests += 1
                    offset += frame.length
                } else if let frame = RESPFastFrame.twoArguments(rest, upperName: "PEER.MEMBED", maxArgument: maxText),
                    self.markPeerLink(),
                    self.serveForwardedHit(UnsafeRawBufferPointer(rebasing: rest[frame.argument]), sequence: self.nextSequence)
                {
                    offset += frame.length
                } else {
                    break
                }
                self.nextSequence += 1
            }
            return offset
        }
        guard consumed > 0 else { return }
        buffer.moveReaderIndex(forwardBy: consumed)
    }

    /// The key (and tokens) of a text seen before: the connection's memo, else the node's alias
    /// table. The overlap sample hears of a sampled key on a memo fill and then at most once a
    /// minute per memo slot (it keeps the minute a caller last asked a key), not on every hit.
    @inline(__always)
    func knownKey(_ text: UnsafeRawBufferPointer) -> KnownText? {
        let textHash = EmbeddingNode.textHash(text)
        if let remembered = self.knownKeys.known(textHash, minute: self.burstMinute) {
            if remembered.renote { self.burstNotes.append(remembered.known.key) }
            return remembered.known
        }
        return self.learnKey(textHash)
    }

    /// The minute of the burst's clock (for the overlap sample's minutes), once per burst.
    var burstMinute: UInt32 {
        if let minute = self.burstMinuteReading { return minute }
        let minute = OverlapSample.minute(self.burstClock())
        self.burstMinuteReading = minute
        return minute
    }

    /// A memo miss: the alias table, then the memo and the overlap sample.
    @inline(never)
    func learnKey(_ textHash: Hash128) -> KnownText? {
        guard let found = self.node.knownKeyAndTokens(textHash: textHash) else { return nil }
        let known = KnownText(key: found.key, tokens: found.tokens)
        let sampled = self.node.savings.overlap.isSampled(found.key)
        self.knownKeys.remember(textHash, known, sampled: sampled, minute: self.burstMinute)
        if sampled { self.burstNotes.append(found.key) }
        return known
    }

    /// A known text, on the event loop: a hit (written, or parked behind earlier replies), an owned
    /// key for the burst's MGET, or a forward to its owner. False: none of these; the caller defers
    /// it to the async path or ends the fast run.
    func serveKnownText(_ known: KnownText, text: UnsafeRawBufferPointer, sequence: Int, context: ChannelHandlerContext) -> Bool {
        if self.serveHit(known, text: text, sequence: sequence) { return true }
        if self.canFetchFromL2(known.key, context: context) {
            self.deferredKnown.append((sequence, Array(text), known))
            return true
        }
        guard self.burstLoopLookups < Self.maxLoopLookupsPerBurst,
            self.forwardOnLoop(text, known: known, sequence: sequence, context: context)
        else { return false }
        self.burstLoopLookups += 1
        return true
    }

    /// Serves a known text from L1 (or the hot cache) as reply `sequence`: into the output if every
    /// earlier reply is out, else parked. False: a miss, nothing written or counted.
    func serveHit(_ known: KnownText, text: UnsafeRawBufferPointer, sequence: Int) -> Bool {
        let node = self.node
        let key = known.key
        let now = self.burstClock()
        self.l1Hits &+= 1
        // Hits are timed one in `l1LatencySampling`: two clock reads per hit cost more than the hit
        // (every hit while the audit log is on).
        let sampled = self.l1Hits % Self.l1LatencySampling == 0
        let timed = sampled || self.audit != nil
        let start = timed ? DispatchTime.now().uptimeNanoseconds : 0
        let tier: Tier?
        if self.canWriteDirectly(sequence) {
            tier = node.serveKnown(key, text: text, now: now) { vector in self.output.writeBulkString(bytes: vector) }
            if tier != nil { self.writeSequence += 1 }
        } else {
            var reply = ByteBuffer()
            tier = node.serveKnown(key, text: text, now: now) { vector in reply.writeBulkString(bytes: vector) }
            if tier != nil { self.complete(sequence, reply) }
        }
        guard let tier else { return false }
        if timed {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            if sampled { self.l1Latency.record(.nanoseconds(Int64(elapsed))) }
            self.audit?.write(time: now, caller: self.account.name, key: key, tier: tier, latencyMicros: Int(elapsed / 1000), tokens: known.tokens)
        }
        self.burstCounts.hit(hot: tier == .hot, tokens: known.tokens)
        return true
    }

    /// A peer's `PEER.MEMBED` of one text this node serves as owner, answered from L1 (`*1` and the
    /// vector) straight into the output. False, having written nothing, on a miss.
    func serveForwardedHit(_ text: UnsafeRawBufferPointer, sequence: Int) -> Bool {
        self.serveAllHits(count: 1, sequence: sequence, ownerTiers: true) { _, now in self.writeHit(text, now: now, owned: true) }
    }

    /// Answers `count` texts as one array reply `sequence`, straight into the output, when `hit(i, now)`
    /// writes every one of them (a MEMBED of popular texts, a peer's forwarded batch): no task, no hop.
    /// On the first miss the output is rolled back and the answer is false. `ownerTiers`: a peer's
    /// PEER.MEMBED, whose reply ends with the tier codes (PeerTiers: all L1 here).
    func serveAllHits(count: Int, sequence: Int, ownerTiers: Bool = false, _ hit: (Int, Double) -> (tier: Tier, known: KnownText)?) -> Bool {
        guard self.canWriteDirectly(sequence) else { return false }
        let start = self.output.writerIndex
        // With the audit log on, the answers are logged once the whole reply is known to be hits.
        var audited: [(Tier, KnownText)] = []
        let began = self.audit != nil ? DispatchTime.now().uptimeNanoseconds : 0
        self.output.writeArrayHeader(ownerTiers ? count + 1 : count)
        let now = self.burstClock()
        var (hot, hotTokens, l1Tokens) = (0, 0, 0)
        for i in 0..<count {
            switch hit(i, now) {
            case let (tier, known)? where tier == .hot:
                hot += 1
                hotTokens += known.tokens
                if began > 0 { audited.append((tier, known)) }
            case let (tier, known)?:
                l1Tokens += known.tokens
                if began > 0 { audited.append((tier, known)) }
            case nil:
                self.output.moveWriterIndex(to: start)
                return false
            }
        }
        if ownerTiers {
            self.output.writeBulkString(byteCount: count) { $0.initializeMemory(as: UInt8.self, repeating: PeerTiers.code(.l1)) }
        }
        self.writeSequence += 1
        self.burstCounts.add(l1: count - hot, l1Tokens: l1Tokens, hot: hot, hotTokens: hotTokens)
        for (tier, known) in audited { self.audit(known, tier: tier, since: began) }
        return true
    }

    /// Writes the vector of a known text from L1 (or, unless `owned`, the hot cache for a key another
    /// node owns) into the output; the tier, or nil on a miss. `owned`: a peer forwarded it here.
    func writeHit(_ text: UnsafeRawBufferPointer, now: Double, owned: Bool) -> (tier: Tier, known: KnownText)? {
        guard let known = self.knownKey(text),
            let tier = self.node.serveKnown(known.key, text: text, now: now, owned: owned, { self.output.writeBulkString(bytes: $0) })
        else { return nil }
        return (tier, known)
    }

    /// Whether an L1 miss on `key` can be looked up in Redis from this loop: this node owns the key
    /// and its Redis is up (in cluster mode: a slot map is known).
    func canFetchFromL2(_ key: CacheKey, context: ChannelHandlerContext) -> Bool {
        guard let l2 = self.node.l2, self.node.owns(key), l2.slotRouter != nil || self.redisLink(context) != nil else { return false }
        if let up = self.burstL2Up { return up }
        let up = l2.isUp
        self.burstL2Up = up
        return up
    }

    /// The burst's owned L1 misses, ONE MGET over this loop's Redis link (in cluster mode, pipelined
    /// GETs, one round trip per owner: `fetchDeferredFromCluster`). Hits are answered on the loop,
    /// copied from the reply straight into the output; misses, expired or undecodable values and
    /// failed lookups take the async path (health checks, backoff, redirects, single-flight, the encoder).
    func fetchDeferredFromL2(context: ChannelHandlerContext) {
        guard !self.deferredKnown.isEmpty else { return }
        let batch = self.deferredKnown
        self.deferredKnown.removeAll(keepingCapacity: true)
        guard let l2 = self.node.l2 else {
            return self.lookUpAsync(batch.map { ($0.sequence, $0.text) }, context: context)
        }
        let prefix = self.l2KeyPrefix(l2)
        if let slots = l2.slotRouter { return self.fetchDeferredFromCluster(batch, slots: slots, prefix: prefix, context: context) }
        guard let link = self.redisLink(context) else {
            return self.lookUpAsync(batch.map { ($0.sequence, $0.text) }, context: context)
        }
        var command = ByteBuffer()
        command.reserveCapacity(16 + batch.count * (prefix.count + 40))
        command.writeArrayHeader(batch.count + 1)
        command.writeBulkString("MGET")
        for item in batch { command.writeBulkString(prefix: prefix, hex: item.known.key.hash) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let sent = DispatchTime.now().uptimeNanoseconds
        link.send(encoded: command).whenComplete { result in
            let (handler, context) = bound.value
            var values = [RESPValue?](repeating: nil, count: batch.count)
            if case .success(.array(let items?)) = result, items.count == batch.count { values = items }
            handler.answerFromL2(batch, values: values, since: sent, context: context)
        }
    }

    /// Answers the deferred texts from Redis's replies, `values[i]` for `batch[i]`: a value is a hit
    /// (when it decodes and is fresh), a null or a bad value a miss (not asked again), nil a lookup
    /// that did not happen or failed (asked again on the async path).
    func answerFromL2(_ batch: [DeferredText], values: [RESPValue?], since sent: UInt64, context: ChannelHandlerContext) {
        let node = self.node
        var unanswered: [(sequence: Int, text: [UInt8])] = []
        var misses: [(sequence: Int, text: [UInt8])] = []
        var hits = 0
        var hitTokens = 0
        for (item, value) in zip(batch, values) {
            guard let value else {
                unanswered.append((item.sequence, item.text))
                continue
            }
            let served: Bool
            if case .bulkString(let value?) = value {
                served = value.withUnsafeReadableBytes { bytes in
                    guard let header = L2Record.decodeHeader(bytes, expectedDim: node.model.dimension) else { return false }
                    let vector = UnsafeRawBufferPointer(rebasing: bytes[L2Record.headerBytes...])
                    guard node.acceptL2(item.known.key, createdAt: header.createdAt, delta: header.delta, vector: vector) else { return false }
                    self.complete(item.sequence) { $0.writeBulkString(bytes: vector) }
                    return true
                }
            } else {
                served = false
            }
            if served {
                hits += 1
                hitTokens += item.known.tokens
                self.audit(item.known, tier: .l2, since: sent)
            } else {
                misses.append((item.sequence, item.text))
            }
        }
        if hits > 0 { self.charge(.l2, texts: hits, tokens: hitTokens) }
        node.l2?.count(hits: hits, misses: misses.count)
        if hits > 0 { self.server.metrics.tierCounter(.l2).increment(by: Int64(hits)) }
        // Redis answered: its misses are not asked again. (A failed lookup is: the async path has
        // the health checks and follows redirects.)
        if !misses.isEmpty { self.lookUpAsync(misses, l2Missed: true, context: context) }
        if !unanswered.isEmpty { self.lookUpAsync(unanswered, context: context) }
        self.scheduleFlush(context: context)
    }

    /// The full lookup path for each text off the event loop, replies slotted in order.
    func lookUpAsync(_ batch: [(sequence: Int, text: [UInt8])], l2Missed: Bool = false, context: ChannelHandlerContext) {
        let (node, metrics, texts, account) = (self.node, self.server.metrics, batch.map(\.text), self.account)
        self.runAsync(batch.map(\.sequence), context: context) {
            await Self.lookupEach(node: node, metrics: metrics, texts: texts, l2Missed: l2Missed, account: account)
        }
    }

    /// The node's clock, read once per read burst (TTLs are seconds; a burst is microseconds).
    func burstClock() -> Double {
        if let now = self.burstNow { return now }
        let now = self.node.now()
        self.burstNow = now
        return now
    }

    /// Adds the burst's hits to the shared counters and the caller's account, once, and forgets the
    /// burst's readings.
    func commitBurst() {
        defer {
            self.burstNow = nil
            self.burstMinuteReading = nil
            self.burstL2Up = nil
        }
        if !self.burstNotes.isEmpty {
            self.node.savings.overlap.note(self.burstNotes, caller: self.account.bit, minute: self.burstMinute)
            self.burstNotes.removeAll(keepingCapacity: true)
        }
        let counts = self.burstCounts
        guard !counts.isEmpty else { return }
        self.burstCounts = BurstCounts()
        let (requests, l1, hot) = (counts.requests, counts.l1, counts.hot)
        var tally = Tally()
        tally.requests = requests + counts.batches
        tally.add(.l1, texts: l1, tokens: counts.l1Tokens)
        tally.add(.hot, texts: hot, tokens: counts.hotTokens)
        tally.savedSeconds = Double(counts.l1Tokens + counts.hotTokens) * self.node.secondsPerToken
        self.account.record(tally, now: self.burstClock())
        if requests > 0 {
            self.embedRequests.increment(by: Int64(requests))
            self.callerRequests.increment(by: Int64(requests))
        }
        if l1 > 0 { self.l1Results.increment(by: Int64(l1)) }
        if hot > 0 { self.hotResults.increment(by: Int64(hot)) }
        self.node.countServed(.l1, l1)
        self.node.countServed(.hot, hot)
    }

    /// Charges `texts` answered on the loop outside a burst (an L2 MGET's or a peer link's reply)
    /// to the caller's account. `ownerComputed`: forwarded texts the owner had to compute.
    func charge(_ tier: Tier, texts: Int, tokens: Int, ownerComputed: (texts: Int, tokens: Int) = (0, 0)) {
        var tally = Tally()
        tally.add(tier, texts: texts, tokens: tokens)
        tally.ownerComputedTexts = ownerComputed.texts
        tally.ownerComputedTokens = ownerComputed.tokens
        tally.savedSeconds = Double(tally.duplicateTokens) * self.node.secondsPerToken
        self.account.record(tally, now: self.node.now())
    }

    /// An audit line for a text answered on the loop after a round trip that started at `since`.
    func audit(_ known: KnownText, tier: Tier, since: UInt64) {
        guard let audit = self.audit else { return }
        let micros = Int((DispatchTime.now().uptimeNanoseconds - since) / 1000)
        audit.write(time: self.node.now(), caller: self.account.name, key: known.key, tier: tier, latencyMicros: micros, tokens: known.tokens)
    }

    /// The connection is a peer's link (it sent a PEER.* command): what it asks is charged to the
    /// peers' pseudo-caller, since the caller who asked is charged on the node it asked. True unless
    /// mutual TLS refuses peer commands here, so it can sit in a fast path's condition.
    @discardableResult
    func markPeerLink() -> Bool {
        guard self.mayActAsPeer else { return false }  // refused in `run` (NOPEERCERT)
        if !self.isPeerLink {
            self.isPeerLink = true
            self.account = self.node.savings.peers
        }
        return true
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
