// The node's L1: a byte-bounded LRU of fixed-size vectors with a TTL per entry and probabilistic
// early expiry, safe from every event-loop thread at once.
//
// Concurrency: keys are spread over N shards (a power of two, chosen by the key's high bits), each a
// LRUShard behind its own Mutex, so concurrent hits on different keys rarely meet; there is no global
// lock. Reads hand the stored bytes to a closure under the shard lock, so a server copies a vector
// straight into its output buffer with no intermediate copy.
//
// Early expiry is XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
// Prevention", VLDB 2015): an entry stores δ, what its miss cost; a hit at time t on an entry expiring
// at T asks for one background refresh when t − δ·β·ln(U) ≥ T, U uniform in (0, 1]. The closer to T
// and the costlier the value, the likelier; β > 1 favours earlier refreshes, β = 0 disables them. The
// current value is served meanwhile, and only one refresh per key is asked for until the refresh
// lands (`insert`) or gives up (`cancelRefresh`).
import Foundation
import Synchronization

/// A 128-bit key (already a well-mixed hash: its bits pick the shard and the index slot).
public struct LRUKey: Hashable, Sendable {
    /// The first 64 bits.
    public var high: UInt64
    /// The last 64 bits.
    public var low: UInt64

    /// Makes a key from its halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// Sizing and policy of an EmbeddingLRU.
public struct LRUConfiguration: Sendable {
    /// The budget: values plus per-entry overhead stay within it.
    public var maxBytes: Int
    /// Size of every value (1536 for a 384-d float32 vector).
    public var valueBytes: Int
    /// Number of independently locked shards (a power of two).
    public var shardCount: Int
    /// XFetch β; 0 disables early expiry.
    public var earlyExpiryBeta: Double
    /// Seeds the per-shard random sources (XFetch's U), so tests can reproduce a run.
    public var seed: UInt64

    /// A configuration; see the properties.
    public init(maxBytes: Int, valueBytes: Int, shardCount: Int = 16, earlyExpiryBeta: Double = 1, seed: UInt64 = 0x5EED) {
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shardCount must be a power of two")
        self.maxBytes = maxBytes
        self.valueBytes = valueBytes
        self.shardCount = shardCount
        self.earlyExpiryBeta = earlyExpiryBeta
        self.seed = seed
    }
}

/// What a lookup found.
public enum LRULookup<R> {
    /// A live entry: the closure's result, and whether the caller should refresh it in the background.
    case hit(R, refresh: Bool)
    /// Absent or expired.
    case miss
}

/// Counters of an EmbeddingLRU.
public struct LRUStats: Sendable, Equatable {
    public var entries = 0
    public var capacity = 0
    /// Bytes the entries account for: values plus per-entry overhead.
    public var bytes = 0
    public var hits = 0
    public var misses = 0
    public var evictions = 0
    public var expirations = 0
    public var earlyRefreshes = 0
}

/// The byte-bounded, sharded LRU. See the file comment.
public final class EmbeddingLRU: Sendable {
    /// The configuration it was made with.
    public let configuration: LRUConfiguration
    /// Real bytes per entry beyond the value, counted against `maxBytes`.
    public let overheadPerEntry: Int
    private let shards: [Shard]
    private let shardShift: UInt64

    /// A Mutex is not copyable, so each lives in a box the array can hold.
    final class Shard: Sendable {
        let state: Mutex<ShardState>
        init(_ state: consuming sending ShardState) { self.state = Mutex(state) }
        func withLock<R>(_ body: (inout ShardState) -> R) -> R { self.state.withLock { body(&$0) } }
    }

    struct ShardState: ~Copyable, Sendable {
        var lru: LRUShard
        var stats = LRUStats()
        deinit { self.lru.deallocate() }
    }

    /// An empty cache.
    public init(_ configuration: LRUConfiguration) {
        self.configuration = configuration
        // The index holds 1.5-3 slots per entry; count the worst case.
        self.overheadPerEntry = LRUShard.overheadPerEntry(indexSlotsPerEntry: 3)
        let perShard = max(1, configuration.maxBytes / configuration.shardCount / (configuration.valueBytes + self.overheadPerEntry))
        self.shards = (0..<configuration.shardCount).map { i in
            Shard(ShardState(lru: LRUShard(capacity: perShard, valueBytes: configuration.valueBytes,
                                           seed: configuration.seed &+ UInt64(i) &* 0x9E37_79B9)))
        }
        self.shardShift = UInt64(64 - configuration.shardCount.trailingZeroBitCount)
    }

    private func shard(_ key: LRUKey) -> Int {
        self.configuration.shardCount == 1 ? 0 : Int(key.high >> self.shardShift)
    }

    /// Looks `key` up at time `now` (seconds); on a hit, `read` sees the stored bytes under the lock.
    public func lookup<R>(_ key: LRUKey, now: Double, _ read: (UnsafeRawBufferPointer) -> R) -> LRULookup<R> {
        let beta = self.configuration.earlyExpiryBeta
        return self.shards[self.shard(key)].withLock { state -> LRULookup<R> in
            guard let slot = state.lru.slot(of: key) else {
                state.stats.misses += 1
                return .miss
            }
            let expiry = state.lru.expiry(slot)
            if now >= expiry {
                _ = state.lru.remove(key)
                state.stats.expirations += 1
                state.stats.misses += 1
                return .miss
            }
            state.lru.touch(slot)
            state.stats.hits += 1
            var refresh = false
            let budget = state.lru.delta(slot) * beta
            // −ln U ≥ (T − t)/(δβ); past 40 the chance is below e⁻⁴⁰, so no random number is drawn.
            if budget > 0 && !state.lru.isRefreshing(slot) && (expiry - now) / budget < 40 {
                let u = Double(state.lru.random.next() >> 11 + 1) * 0x1p-53  // uniform in (0, 1]
                if now - budget * log(u) >= expiry {
                    refresh = true
                    state.lru.setRefreshing(slot, true)
                    state.stats.earlyRefreshes += 1
                }
            }
            return .hit(read(state.lru.value(slot)), refresh: refresh)
        }
    }

    /// The hit path without generics (no runtime metadata lookups across modules): `read` sees the
    /// bytes on a hit. Returns (hit, refresh).
    public func read(_ key: LRUKey, now: Double, _ read: (UnsafeRawBufferPointer) -> Void) -> (hit: Bool, refresh: Bool) {
        switch self.lookup(key, now: now, read) {
        case .hit(_, let refresh): return (true, refresh)
        case .miss: return (false, false)
        }
    }

    /// Whether a live entry exists (no recency change, no early-expiry draw): for EMBED.LOCATE.
    public func contains(_ key: LRUKey, now: Double) -> Bool {
        self.shards[self.shard(key)].withLock { state in
            state.lru.slot(of: key).map { now < state.lru.expiry($0) } ?? false
        }
    }

    /// Stores `value` (exactly `valueBytes`) for `ttl` seconds; `delta` is what computing it cost.
    public func insert(_ key: LRUKey, value: UnsafeRawBufferPointer, now: Double, ttl: Double, delta: Double) {
        precondition(value.count == self.configuration.valueBytes, "value of \(value.count) bytes")
        self.shards[self.shard(key)].withLock { state in
            if state.lru.insert(key, value, expiresAt: now + ttl, delta: delta) { state.stats.evictions += 1 }
        }
    }

    /// Removes `key`; false if it was absent.
    @discardableResult
    public func remove(_ key: LRUKey) -> Bool {
        self.shards[self.shard(key)].withLock { $0.lru.remove(key) }
    }

    /// Forgets a refresh that `lookup` asked for and that will not land, so another may be asked.
    public func cancelRefresh(_ key: LRUKey) {
        self.shards[self.shard(key)].withLock { state in
            if let slot = state.lru.slot(of: key) { state.lru.setRefreshing(slot, false) }
        }
    }

    /// Empties the cache (counters are kept).
    public func removeAll() {
        for shard in self.shards { shard.withLock { $0.lru.removeAll() } }
    }

    /// Counters summed over the shards.
    public var stats: LRUStats {
        var total = LRUStats()
        for shard in self.shards {
            shard.withLock { state in
                total.entries += state.lru.count
                total.capacity += state.lru.capacity
                total.hits += state.stats.hits
                total.misses += state.stats.misses
                total.evictions += state.stats.evictions
                total.expirations += state.stats.expirations
                total.earlyRefreshes += state.stats.earlyRefreshes
            }
        }
        total.bytes = total.entries * (self.configuration.valueBytes + self.overheadPerEntry)
        return total
    }
}
