// The cache-hit path of a RESP connection, which is most of a node's traffic and must keep up with
// Redis GET. A text's key comes from the connection's memo (KnownKeyMemo) or the lane's alias
// table, and its vector is copied from L1 into the reply queue's output under the shard lock: no
// frame, no argument array, no task. Counters are kept per read burst and charged once at its end
// (Accounting: the caller's savings account and the shared metrics); the clock is read once per
// burst. What is not a hit (a known key this node owns that missed L1, a key another node owns, an
// unknown text) is the caller's to route: RESPConnectionHandler+Requests.
//
// The path is bound to one lane (the connection's model) and one savings account; the handler
// re-binds it when the session changes (`rebind`).
import EmbHash
import EmbNode
import EmbRedis
import EmbRESP
import Foundation
import NIOCore
import Prometheus

/// A read burst's counts on the hit path (a struct, so a hit updates it in one access).
struct BurstCounts {
    /// EMBED requests (answered here or not), and MEMBED / EMBED.WARM requests.
    var requests = 0
    var batches = 0
    var hits = HitCounts()

    var isEmpty: Bool { self.requests + self.batches + self.hits.texts == 0 }
}

/// The hit path's state for one connection: its lane, memo, account and the burst in progress.
final class RESPHitPath {
    /// A known text whose owner (this node) missed it in L1: looked up in Redis at the burst's end.
    typealias DeferredText = (sequence: Int, text: [UInt8], known: KnownText)

    private let server: ServerContext
    let accounting: Accounting
    /// The selected model's lane: its cache, alias table and encoder.
    private(set) var lane: EmbeddingNode
    /// The savings account texts are charged to (the peers' pseudo-caller on a peer's link). Opened
    /// on first use: a connection that is charged nothing (a probe, a locator, a peer's link before
    /// it says so) must not add an empty caller to the ledger.
    var account: CallerAccount {
        if let account = self.openAccount { return account }
        let account = self.accountIsPeers ? self.lane.savings.peers : self.lane.savings.account(self.accountName)
        self.openAccount = account
        return account
    }
    private var openAccount: CallerAccount?
    private var accountName: String
    private var accountIsPeers = false
    /// The audit log if the cluster file turned it on (set at start, never changed).
    let audit: AuditLog?
    private let knownKeys = KnownKeyMemo()
    /// RESP request counters, resolved once per connection (and per caller name).
    private let embedRequests: Counter
    private(set) var callerRequests: Counter

    var burst = BurstCounts()
    /// Keys first seen on this connection in this burst that the overlap sample wants (few: a memo
    /// hit never adds one).
    private var burstNotes: [CacheKey] = []
    private var burstNow: Double?
    private var burstMinuteReading: UInt32?
    private var burstL2Up: Bool?
    /// EMBEDs of this burst with known keys this node owns that missed L1: one MGET on the loop.
    var deferredKnown: [DeferredText] = []
    /// EMBEDs of this burst that need the full path: looked up together, as one MEMBED would be.
    var deferredEmbeds: [(sequence: Int, text: [UInt8])] = []
    /// Peer forwards started on the loop in this burst. Past a few, the rest of a pipelined burst
    /// goes to the async path, which merges them into one PEER.MEMBED per owner.
    var burstLoopLookups = 0
    static let maxLoopLookupsPerBurst = 2

    init(server: ServerContext, session: RESPSession) {
        self.server = server
        self.accounting = Accounting(metrics: server.metrics)
        let lane = session.selection.lane.node
        self.lane = lane
        self.accountName = session.accountName
        self.audit = lane.savings.audit
        self.embedRequests = server.metrics.requestCounter("resp", "embed")
        self.callerRequests = server.metrics.callerCounter(session.caller)
    }

    /// The session changed (caller, model or peer role): charge the burst so far to the old
    /// account, then bind to the session's lane and account. The memo is forgotten: it maps text
    /// hashes to the old lane's keys, and the minutes it keeps are the old caller's.
    func rebind(_ session: RESPSession) {
        self.commitBurst()
        self.callerRequests = self.server.metrics.callerCounter(session.caller)
        self.lane = session.selection.lane.node
        // Hits already counted stay with the old caller; from here on they are the new one's. What a
        // peer's link asks is charged to the peers, since the caller who asked is charged where it asked.
        self.accountName = session.accountName
        self.accountIsPeers = session.isPeerLink
        self.openAccount = nil
        self.knownKeys.forgetAll()
    }

    /// The key (and tokens) of a text seen before: the connection's memo, else the lane's alias
    /// table (KnownKeyMemo.key: the overlap sample hears of a sampled key on a memo fill and then
    /// at most once a minute per memo slot, not on every hit).
    @inline(__always)
    func knownKey(_ text: UnsafeRawBufferPointer) -> KnownText? {
        self.knownKeys.key(of: text, in: self.lane, minute: self.burstMinute, notes: &self.burstNotes)
    }

    /// The node's clock, read once per read burst (TTLs are seconds; a burst is microseconds).
    func burstClock() -> Double {
        if let now = self.burstNow { return now }
        let now = self.lane.now()
        self.burstNow = now
        return now
    }

    /// The minute of the burst's clock (for the overlap sample's minutes), once per burst.
    private var burstMinute: UInt32 {
        if let minute = self.burstMinuteReading { return minute }
        let minute = OverlapSample.minute(self.burstClock())
        self.burstMinuteReading = minute
        return minute
    }

    /// Serves a known text from L1 (or the hot cache) as reply `sequence`: into the output if every
    /// earlier reply is out, else parked. False: a miss, nothing written or counted.
    func serveHit(_ known: KnownText, text: UnsafeRawBufferPointer, sequence: Int, replies: inout RESPReplyQueue) -> Bool {
        let lane = self.lane
        let key = known.key
        let now = self.burstClock()
        // Hits are timed one in `latencySampling` (every hit while the audit log is on).
        let sampled = self.accounting.sampleHit()
        let timed = sampled || self.audit != nil
        let start = timed ? DispatchTime.now().uptimeNanoseconds : 0
        let tier: Tier?
        if replies.canWriteDirectly(sequence) {
            tier = lane.serveKnown(key, text: text, now: now) { vector in replies.output.writeBulkString(bytes: vector) }
            if tier != nil { replies.wroteDirectly(sequence) }
        } else {
            var reply = ByteBuffer()
            tier = lane.serveKnown(key, text: text, now: now) { vector in reply.writeBulkString(bytes: vector) }
            if tier != nil { replies.complete(sequence, reply) }
        }
        guard let tier else { return false }
        if timed {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            if sampled { self.accounting.l1Latency.record(.nanoseconds(Int64(elapsed))) }
            self.audit?.write(time: now, caller: self.account.name, key: key, tier: tier, latencyMicros: Int(elapsed / 1000), tokens: known.tokens)
        }
        self.burst.hits.hit(hot: tier == .hot, tokens: known.tokens)
        return true
    }

    /// Answers `texts` as one array reply `sequence`, straight into the output, when every one is a
    /// hit (a MEMBED of popular texts; a peer's PEER.MEMBED when `owned`, whose reply ends with the
    /// tier codes, PeerTiers: all L1 here). False, having written nothing, otherwise.
    func serveAll(_ count: Int, owned: Bool, sequence: Int, replies: inout RESPReplyQueue,
                  text: (Int, (UnsafeRawBufferPointer) -> CacheHit?) -> CacheHit?) -> Bool {
        guard replies.canWriteDirectly(sequence) else { return false }
        let start = replies.output.writerIndex
        let began = self.audit != nil ? DispatchTime.now().uptimeNanoseconds : 0
        replies.output.writeArrayHeader(owned ? count + 1 : count)
        let now = self.burstClock()
        let lane = self.lane
        let served = AllHitServer.serve(count: count, into: &replies.output, keepAnswers: began > 0) { i, buffer in
            text(i) { raw in
                AllHitServer.hit(self.knownKey(raw), text: raw, lane: lane, now: now, owned: owned, into: &buffer) { $1.writeBulkString(bytes: $0) }
            }
        }
        guard let served else {
            replies.output.moveWriterIndex(to: start)
            return false
        }
        if owned {
            replies.output.writeBulkString(byteCount: count) { $0.initializeMemory(as: UInt8.self, repeating: PeerTiers.code(.l1)) }
        }
        replies.wroteDirectly(sequence)
        self.burst.hits.add(served.counts)
        for (tier, known) in served.answers { self.audit(known, tier: tier, since: began) }
        return true
    }

    /// Whether an L1 miss on `key` can be looked up in Redis from this loop: this node owns the key
    /// and its Redis is up (in cluster mode: a slot map is known).
    func canFetchFromL2(_ key: CacheKey, fetch: RESPL2Fetch, on loop: any EventLoop) -> Bool {
        guard let l2 = self.lane.l2, self.lane.owns(key), fetch.isAvailable(l2, on: loop) else { return false }
        if let up = self.burstL2Up { return up }
        let up = l2.isUp
        self.burstL2Up = up
        return up
    }

    /// Answers the deferred texts from Redis's replies, `values[i]` for `batch[i]`: a value is a hit
    /// (when it decodes and is fresh), a null or a bad value a miss (not asked again), nil a lookup
    /// that did not happen or failed (asked again on the async path). Returns those two lists.
    func answerFromL2(_ batch: [DeferredText], values: [RESPValue?], since sent: UInt64, replies: inout RESPReplyQueue)
        -> (misses: [(sequence: Int, text: [UInt8])], unanswered: [(sequence: Int, text: [UInt8])])
    {
        let lane = self.lane
        var unanswered: [(sequence: Int, text: [UInt8])] = []
        var misses: [(sequence: Int, text: [UInt8])] = []
        var hits = 0
        var hitTokens = 0
        for (item, value) in zip(batch, values) {
            guard let value else {
                unanswered.append((item.sequence, item.text))
                continue
            }
            var served = false
            if case .bulkString(let value?) = value {
                served = value.withUnsafeReadableBytes { bytes in
                    guard let header = L2Record.decodeHeader(bytes, expectedDim: lane.model.dimension) else { return false }
                    let vector = UnsafeRawBufferPointer(rebasing: bytes[L2Record.headerBytes...])
                    guard lane.acceptL2(item.known.key, createdAt: header.createdAt, delta: header.delta, vector: vector) else { return false }
                    replies.complete(item.sequence) { $0.writeBulkString(bytes: vector) }
                    return true
                }
            }
            if served {
                hits += 1
                hitTokens += item.known.tokens
                self.audit(item.known, tier: .l2, since: sent)
            } else {
                misses.append((item.sequence, item.text))
            }
        }
        if hits > 0 { self.accounting.charge(.l2, texts: hits, tokens: hitTokens, to: self.account, lane: lane) }
        lane.l2?.count(hits: hits, misses: misses.count)
        return (misses, unanswered)
    }

    /// Charges a text answered on the loop by its owner (a forward on this loop's peer link).
    func chargeForwarded(_ known: KnownText, ownerComputed: Bool, lane: EmbeddingNode, since sent: UInt64) {
        self.accounting.charge(.forwarded, texts: 1, tokens: known.tokens, ownerComputed: ownerComputed ? (1, known.tokens) : (0, 0),
                               to: self.account, lane: lane)
        self.audit(known, tier: .forwarded, since: sent)
    }

    /// Adds the burst's hits to the shared counters and the caller's account, once, and forgets the
    /// burst's readings.
    func commitBurst() {
        defer {
            self.burstNow = nil
            self.burstMinuteReading = nil
            self.burstL2Up = nil
            self.burstLoopLookups = 0
        }
        if !self.burstNotes.isEmpty {
            self.lane.savings.overlap.note(self.burstNotes, caller: self.account.bit, minute: self.burstMinute)
            self.burstNotes.removeAll(keepingCapacity: true)
        }
        let counts = self.burst
        guard !counts.isEmpty else { return }
        self.burst = BurstCounts()
        self.accounting.chargeHits(counts.hits, requests: counts.requests + counts.batches, to: self.account, lane: self.lane, now: self.burstClock())
        if counts.requests > 0 {
            self.embedRequests.increment(by: Int64(counts.requests))
            self.callerRequests.increment(by: Int64(counts.requests))
        }
    }

    /// An audit line for a text answered on the loop after a round trip that started at `since`.
    func audit(_ known: KnownText, tier: Tier, since: UInt64) {
        guard let audit = self.audit else { return }
        let micros = Int((DispatchTime.now().uptimeNanoseconds - since) / 1000)
        audit.write(time: self.lane.now(), caller: self.account.name, key: known.key, tier: tier, latencyMicros: micros, tokens: known.tokens)
    }
}
