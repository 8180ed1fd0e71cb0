// The lookup path of one node (Docs/architecture.md draws it):
//
//   text ──XXH3(text)──▶ alias table ──▶ cache key ──▶ L1 ──hit──▶ vector
//     │ (alias miss: tokenize → XXH3-128(fingerprint, ids))     │ miss
//     ▼                                                         ▼
//   the same key ───────────────────────────────────────────▶ L2 (one MGET for the request's misses)
//                                                               │ miss
//                                                               ▼
//                                single-flight per key ──▶ batcher ──▶ int8 encoder
//
// The alias table maps a hash of the raw text bytes to its cache key, so a repeated text costs two
// hash-table probes and no tokenization: that is what lets the hit path keep up with Redis GET.
// Correctness does not depend on it: the key is always what the tokenizer would give, and an alias
// miss just tokenizes. Every computed vector goes to L1 and (write-behind) to L2.
import EmbHash
import EmbLRU
import EmbModel
import EmbRedis
import EmbSingleFlight
import Foundation
import Synchronization

/// Which tier answered.
public enum Tier: String, Sendable, CaseIterable {
    case l1, l2, computed, coalesced
    /// From the hot cache of keys owned by other nodes.
    case hot
    /// Forwarded to the owner node (which answered from its own tiers).
    case forwarded
}

/// One node's cache and encoder.
public final class EmbeddingNode: Sendable {
    /// Bytes of one of this model's vectors (float32 little-endian): 1536 for all-MiniLM-L6-v2.
    public let vectorBytes: Int

    public let model: EmbeddingModel
    public let configuration: NodeConfiguration
    public let l1: EmbeddingLRU
    public let l2: RedisL2?
    public let batcher: EncoderBatcher
    let aliases: EmbeddingLRU
    let flights = SingleFlight<CacheKey, Computed>()
    /// Answers by tier, indexed by Tier's position in allCases (atomics: the hit path must not contend).
    let tierCounts = TierCounters()
    let clock: @Sendable () -> Double
    /// False with l1MaxBytes = 0: every request goes to L2 (for the L2 benchmark and L2-only nodes).
    public let l1Enabled: Bool
    /// Cluster routing; nil for a standalone node.
    public let router: (any PeerRouter)?
    /// Recently fetched vectors of keys other nodes own (groupcache's hotCache): small, short TTL.
    let hotCache: EmbeddingLRU
    /// Who asked for what, what answered, what it cost and saved (Savings/SavingsLedger.swift).
    public let savings: SavingsLedger
    /// Encoder seconds per token measured at start, until real batches give a running mean.
    let calibratedSecondsPerToken: Double

    struct Computed: Sendable {
        let vector: [UInt8]
        let delta: Double
        /// Found in L1 by a late joiner after the flight that computed it had ended.
        let reused: Bool
        /// Its share of the encoder time of its batch.
        let encoderSeconds: Double
    }

    public init(model: EmbeddingModel, configuration: NodeConfiguration, l2: RedisL2?, router: (any PeerRouter)? = nil,
                savings: SavingsLedger = SavingsLedger(), clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.router = router
        self.vectorBytes = model.vectorBytes
        self.hotCache = EmbeddingLRU(LRUConfiguration(maxBytes: configuration.hotCacheMaxBytes, valueBytes: model.vectorBytes, earlyExpiryBeta: 0))
        self.model = model
        self.configuration = configuration
        self.l2 = l2
        self.clock = clock
        self.l1Enabled = configuration.l1MaxBytes > 0
        self.l1 = EmbeddingLRU(LRUConfiguration(maxBytes: configuration.l1MaxBytes, valueBytes: model.vectorBytes,
                                                earlyExpiryBeta: configuration.earlyExpiryBeta))
        self.aliases = EmbeddingLRU(LRUConfiguration(maxBytes: configuration.aliasMaxBytes, valueBytes: Self.aliasValueBytes, earlyExpiryBeta: 0))
        self.batcher = EncoderBatcher(encoder: model.encoder, configuration: configuration.batcher)
        self.savings = savings
        self.calibratedSecondsPerToken = Self.calibrate(model.encoder)
    }

    /// Keeps a vector fetched from its owner in the hot cache, and counts the forward.
    public func keepForwarded(_ key: CacheKey, _ vector: UnsafeRawBufferPointer) {
        self.count(.forwarded)
        guard self.configuration.hotCacheMaxBytes > 0, vector.count == self.vectorBytes else { return }
        self.hotCache.insert(Self.lruKey(key), value: vector, now: self.clock(), ttl: self.configuration.hotCacheTTL, delta: 0)
    }

    /// Takes a vector an event-loop MGET fetched from L2 (still in the reply's buffer) into L1 for
    /// its remaining TTL, and counts it; false when it is expired (the caller takes the full path).
    public func acceptL2(_ key: CacheKey, createdAt: Double, delta: Float, vector: UnsafeRawBufferPointer) -> Bool {
        let now = self.clock()
        let remaining = createdAt + self.configuration.ttl - now
        guard remaining > 0 else { return false }
        if self.l1Enabled {
            self.l1.insert(Self.lruKey(key), value: vector, now: now, ttl: remaining, delta: Double(delta))
        }
        self.count(.l2)
        return true
    }

    /// Whether this node owns `key` (always, outside a cluster).
    public func owns(_ key: CacheKey) -> Bool { self.router?.remoteOwner(of: key) == nil }

    /// Counters of the hot cache (keys other nodes own).
    public var hotCacheStats: LRUStats { self.hotCache.stats }

    /// Counts of answers by tier.
    public var tiers: [Tier: Int] { self.tierCounts.snapshot() }

    func count(_ tier: Tier, _ n: Int = 1) {
        self.tierCounts.add(tier, n)
    }

    // MARK: keys

    /// The alias-table key of a text's raw bytes (not the cache key).
    static func aliasKey(_ text: UnsafeRawBufferPointer) -> LRUKey {
        let h = XXH3.hash128(text)
        return LRUKey(high: h.high, low: h.low)
    }

    static func lruKey(_ key: CacheKey) -> LRUKey { LRUKey(high: key.hash.high, low: key.hash.low) }

    /// An alias entry's value: the cache key (16 bytes) and the token count (8).
    static let aliasValueBytes = 24

    /// What the alias table files a text under: XXH3-128 of its raw bytes (not its cache key). For a
    /// caller's own memo in front of `knownKey(textHash:)`: a text's key never changes, so a memo of
    /// it never goes stale.
    public static func textHash(_ text: UnsafeRawBufferPointer) -> Hash128 { XXH3.hash128(text) }

    /// The cache key of a text already seen, by its `textHash`; nil if unknown.
    public func knownKey(textHash: Hash128) -> CacheKey? { self.knownKeyAndTokens(textHash: textHash)?.key }

    /// The cache key and token count of a text already seen, by its `textHash`, in one read of the
    /// alias table (the hit paths need both: the key to serve, the count for `usage` and the savings).
    public func knownKeyAndTokens(textHash: Hash128) -> (key: CacheKey, tokens: Int)? {
        var found: (CacheKey, Int)? = nil
        _ = self.aliases.read(LRUKey(high: textHash.high, low: textHash.low), now: 0) { bytes in
            found = (CacheKey(Hash128(high: bytes.loadUnaligned(as: UInt64.self), low: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))),
                     Int(bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        }
        return found
    }

    /// The most texts one request may carry.
    public var maxBatchTexts: Int { self.configuration.maxBatchTexts }

    /// Files a text's key, and its token count (for HTTP's `usage`, so a hit need not tokenize).
    func remember(_ text: UnsafeRawBufferPointer, as key: CacheKey, tokens: Int) {
        var bytes = (key.hash.high, key.hash.low, UInt64(tokens))
        withUnsafeBytes(of: &bytes) { self.aliases.insert(Self.aliasKey(text), value: $0, now: 0, ttl: .infinity, delta: 0) }
    }

    /// How many tokens the model reads for `text` (after truncation): from the alias table when the
    /// text was seen, else by tokenizing. Nil for invalid UTF-8.
    public func tokenCount(_ text: UnsafeRawBufferPointer) -> Int? {
        self.knownKeyAndTokens(textHash: Self.textHash(text))?.tokens
            ?? self.model.tokenizer.encode(utf8: text, maxTokens: self.model.config.maxTokens)?.count
    }

    /// Tokenizes and derives the key; nil for invalid UTF-8.
    public func key(of text: UnsafeRawBufferPointer) -> (key: CacheKey, ids: [Int32])? {
        guard let ids = self.model.tokenizer.encode(utf8: text, maxTokens: self.model.config.maxTokens) else { return nil }
        return (CacheKey(fingerprint: self.model.fingerprint, tokenIDs: ids), ids)
    }

    // MARK: the hit path (synchronous, no allocation beyond the caller's buffer)

    /// The hit path for a caller that already has the key (a server's per-connection memo of
    /// `knownKey`) and keeps its own counts (`countServed`, once per read burst: a shared counter
    /// bumped per hit bounces its cache line between cores). `now` is the caller's clock reading,
    /// one per burst. Returns the tier that answered (l1 or hot), or nil: take the full path.
    public func serveKnown(_ key: CacheKey, text: UnsafeRawBufferPointer, now: Double, owned: Bool = false,
                           _ write: (UnsafeRawBufferPointer) -> Void) -> Tier? {
        guard self.l1Enabled else { return nil }
        if !owned, let router = self.router, router.remoteOwner(of: key) != nil {
            // Another node owns it: only the hot cache may answer here.
            guard self.configuration.hotCacheMaxBytes > 0 else { return nil }
            return self.hotCache.read(Self.lruKey(key), now: now, write).hit ? .hot : nil
        }
        let (hit, refresh) = self.l1.read(Self.lruKey(key), now: now, write)
        guard hit else { return nil }
        if refresh { self.refresh(key, text: Array(text)) }
        return .l1
    }

    /// Adds `n` answers from `tier` to the node's counts (for `serveKnown`'s callers).
    public func countServed(_ tier: Tier, _ n: Int) {
        if n > 0 { self.count(tier, n) }
    }

    /// The node's clock (seconds), as the cache's TTLs see it.
    public func now() -> Double { self.clock() }
}

/// Lock-free counters of answers by tier.
final class TierCounters: Sendable {
    private let l1 = Atomic<Int>(0)
    private let l2 = Atomic<Int>(0)
    private let computed = Atomic<Int>(0)
    private let coalesced = Atomic<Int>(0)
    private let hot = Atomic<Int>(0)
    private let forwarded = Atomic<Int>(0)

    func add(_ tier: Tier, _ n: Int) {
        switch tier {
        case .l1: self.l1.add(n, ordering: .relaxed)
        case .l2: self.l2.add(n, ordering: .relaxed)
        case .computed: self.computed.add(n, ordering: .relaxed)
        case .coalesced: self.coalesced.add(n, ordering: .relaxed)
        case .hot: self.hot.add(n, ordering: .relaxed)
        case .forwarded: self.forwarded.add(n, ordering: .relaxed)
        }
    }

    func snapshot() -> [Tier: Int] {
        [.l1: self.l1.load(ordering: .relaxed), .l2: self.l2.load(ordering: .relaxed),
         .computed: self.computed.load(ordering: .relaxed), .coalesced: self.coalesced.load(ordering: .relaxed),
         .hot: self.hot.load(ordering: .relaxed), .forwarded: self.forwarded.load(ordering: .relaxed)]
    }
}
