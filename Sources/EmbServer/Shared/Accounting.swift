// What a request answered on the event loop costs and saves, charged the same way on both doors:
// the caller's savings account gets the texts by tier, their tokens, and the compute they saved,
// valued at the seconds per token OF THE LANE THAT ANSWERED (a 768-wide model's token costs more
// than a 384-wide one's; valuing every lane at the default model's price was issue 18's drift).
// The shared counters (tier counts, the node's served figures) are bumped here too, with metric
// handles resolved once per connection: a registry lookup per hit would contend between loops.
import EmbHash
import EmbNode

/// Hits answered on the event loop, by tier (a struct: a hit updates it in one access).
package struct HitCounts: Equatable, Sendable {
    package var l1 = 0
    package var l1Tokens = 0
    package var hot = 0
    package var hotTokens = 0

    package init() {}

    /// One text answered from L1, or from the hot cache for a key another node owns.
    @inline(__always)
    package mutating func hit(hot: Bool, tokens: Int) {
        if hot {
            self.hot += 1
            self.hotTokens += tokens
        } else {
            self.l1 += 1
            self.l1Tokens += tokens
        }
    }

    package mutating func add(_ other: HitCounts) {
        self.l1 += other.l1
        self.l1Tokens += other.l1Tokens
        self.hot += other.hot
        self.hotTokens += other.hotTokens
    }

    package var texts: Int { self.l1 + self.hot }
    package var tokens: Int { self.l1Tokens + self.hotTokens }
}

/// The savings charge and the hit metrics of one connection.
final class Accounting {
    let metrics: NodeMetrics
    private(set) lazy var l1Results = self.metrics.tierCounter(.l1)
    private(set) lazy var hotResults = self.metrics.tierCounter(.hot)
    private(set) lazy var forwardedResults = self.metrics.tierCounter(.forwarded)
    private(set) lazy var l2Results = self.metrics.tierCounter(.l2)
    private(set) lazy var l1Latency = self.metrics.latency(.l1)
    /// Hits are timed one in `latencySampling`: two clock reads per hit cost more than the hit.
    static let latencySampling = 16
    private var hitsSeen = 0

    init(metrics: NodeMetrics) { self.metrics = metrics }

    /// The compute `tokens` duplicate tokens saved, valued at `lane`'s measured seconds per token.
    static func savedSeconds(tokens: Int, lane: EmbeddingNode) -> Double {
        Double(tokens) * lane.secondsPerToken
    }

    /// Whether this hit is one of the sampled ones whose latency is recorded.
    @inline(__always)
    func sampleHit() -> Bool {
        self.hitsSeen &+= 1
        return self.hitsSeen % Self.latencySampling == 0
    }

    /// Charges `requests` requests answered with `hits` by `lane` to `account`, and counts the hits.
    func chargeHits(_ hits: HitCounts, requests: Int, to account: CallerAccount, lane: EmbeddingNode, now: Double) {
        var tally = Tally()
        tally.requests = requests
        tally.add(.l1, texts: hits.l1, tokens: hits.l1Tokens)
        tally.add(.hot, texts: hits.hot, tokens: hits.hotTokens)
        tally.savedSeconds = Self.savedSeconds(tokens: hits.tokens, lane: lane)
        account.record(tally, now: now)
        if hits.l1 > 0 { self.l1Results.increment(by: Int64(hits.l1)) }
        if hits.hot > 0 { self.hotResults.increment(by: Int64(hits.hot)) }
        lane.countServed(.l1, hits.l1)
        lane.countServed(.hot, hits.hot)
    }

    /// Charges `texts` answered on the loop after a round trip (an L2 MGET, a peer's reply) to
    /// `account`. `ownerComputed`: forwarded texts the owner had to compute (no saving).
    func charge(_ tier: Tier, texts: Int, tokens: Int, ownerComputed: (texts: Int, tokens: Int) = (0, 0), to account: CallerAccount,
                lane: EmbeddingNode) {
        var tally = Tally()
        tally.add(tier, texts: texts, tokens: tokens)
        tally.ownerComputedTexts = ownerComputed.texts
        tally.ownerComputedTokens = ownerComputed.tokens
        tally.savedSeconds = Self.savedSeconds(tokens: tally.duplicateTokens, lane: lane)
        account.record(tally, now: lane.now())
        switch tier {
        case .l2: self.l2Results.increment(by: Int64(texts))
        case .forwarded: self.forwardedResults.increment(by: Int64(texts))
        default: break
        }
    }
}
