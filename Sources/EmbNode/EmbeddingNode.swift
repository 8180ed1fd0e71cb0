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
}

/// One node's cache and encoder.
public final class EmbeddingNode: Sendable {
    public static let vectorBytes = EmbeddingModel.dimension * 4

    public let model: EmbeddingModel
    public let configuration: NodeConfiguration
    public let l1: EmbeddingLRU
    public let l2: RedisL2?
    public let batcher: EncoderBatcher
    let aliases: EmbeddingLRU
    let flights = SingleFlight<CacheKey, Computed>()
    let tierCounts = Mutex([Tier: Int]())
    let clock: @Sendable () -> Double

    struct Computed: Sendable {
        let vector: [UInt8]
        let delta: Double
    }

    public init(model: EmbeddingModel, configuration: NodeConfiguration, l2: RedisL2?,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.model = model
        self.configuration = configuration
        self.l2 = l2
        self.clock = clock
        self.l1 = EmbeddingLRU(LRUConfiguration(maxBytes: configuration.l1MaxBytes, valueBytes: Self.vectorBytes,
                                                earlyExpiryBeta: configuration.earlyExpiryBeta))
        self.aliases = EmbeddingLRU(LRUConfiguration(maxBytes: configuration.aliasMaxBytes, valueBytes: 16, earlyExpiryBeta: 0))
        self.batcher = EncoderBatcher(encoder: model.encoder, configuration: configuration.batcher)
    }

    /// Counts of answers by tier.
    public var tiers: [Tier: Int] { self.tierCounts.withLock { $0 } }

    func count(_ tier: Tier, _ n: Int = 1) {
        self.tierCounts.withLock { $0[tier, default: 0] += n }
    }

    // MARK: keys

    /// The alias-table key of a text's raw bytes (not the cache key).
    static func aliasKey(_ text: UnsafeRawBufferPointer) -> LRUKey {
        let h = XXH3.hash128(text)
        return LRUKey(high: h.high, low: h.low)
    }

    static func lruKey(_ key: CacheKey) -> LRUKey { LRUKey(high: key.hash.high, low: key.hash.low) }

    /// The cache key of a text known through the alias table, without tokenizing.
    func aliasedKey(_ text: UnsafeRawBufferPointer) -> CacheKey? {
        let alias = Self.aliasKey(text)
        guard case .hit(let key, _) = self.aliases.lookup(alias, now: 0, { bytes in
            CacheKey(Hash128(high: bytes.loadUnaligned(as: UInt64.self), low: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }) else { return nil }
        return key
    }

    func remember(_ text: UnsafeRawBufferPointer, as key: CacheKey) {
        var bytes = (key.hash.high, key.hash.low)
        withUnsafeBytes(of: &bytes) { self.aliases.insert(Self.aliasKey(text), value: $0, now: 0, ttl: .infinity, delta: 0) }
    }

    /// Tokenizes and derives the key; nil for invalid UTF-8.
    public func key(of text: UnsafeRawBufferPointer) -> (key: CacheKey, ids: [Int32])? {
        guard let ids = self.model.tokenizer.encode(utf8: text, maxTokens: self.model.config.maxTokens) else { return nil }
        return (CacheKey(fingerprint: self.model.fingerprint, tokenIDs: ids), ids)
    }

    // MARK: the hit path (synchronous, no allocation beyond the caller's buffer)

    /// Serves `text` from L1 if it is there and its key is known: `write` receives the vector's bytes
    /// under the L1 lock. False means: take the full path (`embed`).
    public func serveFromL1(_ text: UnsafeRawBufferPointer, _ write: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let key = self.aliasedKey(text) else { return false }
        switch self.l1.lookup(Self.lruKey(key), now: self.clock(), write) {
        case .hit(_, let refresh):
            self.count(.l1)
            if refresh { self.refresh(key, text: Array(text)) }
            return true
        case .miss:
            return false
        }
    }
}
