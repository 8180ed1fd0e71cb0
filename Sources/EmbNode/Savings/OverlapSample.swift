// Which keys were asked by more than one caller, in bounded memory: a hash-sampled key set.
//
// Every key is kept with probability p = 2^-level, decided by its hash (the top `level` bits of a
// SplitMix64 mix of the key's low word must be zero), together with a bitmask of the callers who
// asked it (one bit per caller account, at most 64) and the minute each of them last asked it, so
// the overlap can be counted over the last minute, hour or day as well as since start. Because the decision depends only on the key,
// a sampled key is sampled for every caller and on every node, so samples merge by key (the
// cluster report ORs the masks of equal hashes). When the sample holds more than `capacity` keys,
// `level` goes up by one and the keys that fail the stricter test are dropped (about half): the
// sample never holds more than `capacity` keys (16 bytes of payload each, plus 4 a caller that asked
// it; with the dictionary and the minutes' array, ~70 bytes: under 300 KB at the default 4096).
//
// Estimates: a figure counted over the sample (keys asked by two or more callers, keys shared by a
// pair, distinct keys of one caller) is scaled by 2^level. While level is 0 it is exact. Beyond,
// each key is in the sample independently with probability p, so the count is binomial and the
// relative standard error of a figure backed by n sampled keys is sqrt(1 - p) / sqrt(n) (< 1/√n):
// ±1.6% at n = 4096, ±5% at n = 400. `relativeError(sampled:)` gives it; Tests/EmbNodeTests check
// the estimates against exact counts. (Gibbons' distinct sampling and Flajolet's adaptive sampling
// are this scheme; a HyperLogLog per caller would need inclusion-exclusion for intersections, whose
// error grows with the union rather than with the overlap.)
import EmbHash
import Synchronization

/// A bounded sample of keys with the callers that asked them.
public final class OverlapSample: Sendable {
    public static let defaultCapacity = 4096
    public let capacity: Int

    /// The callers that asked a key, and when each last did (`seen[k]` for the k-th set bit).
    struct Entry {
        var mask: UInt64 = 0
        var seen: [UInt32] = []

        mutating func note(bit: Int, minute: UInt32) {
            let b = UInt64(1) << UInt64(bit)
            let rank = (self.mask & (b - 1)).nonzeroBitCount
            if self.mask & b != 0 {
                self.seen[rank] = max(self.seen[rank], minute)
            } else {
                self.mask |= b
                self.seen.insert(minute, at: rank)
            }
        }
    }

    struct State {
        var level = 0
        var entries: [UInt64: Entry] = [:]
    }

    private let state: Mutex<State>
    /// The current level, readable without the lock (a hit path asks `isSampled` before noting).
    private let level = Atomic<Int>(0)

    public init(capacity: Int = OverlapSample.defaultCapacity) {
        self.capacity = max(16, capacity)
        self.state = Mutex(State())
    }

    /// The hash a key is sampled by: mixed, so that sampling is independent of ring ownership
    /// (the ring uses the key's high word).
    @inline(__always)
    public static func sampleHash(_ key: CacheKey) -> UInt64 {
        var z = key.hash.low &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func passes(_ hash: UInt64, level: Int) -> Bool { level == 0 || hash >> UInt64(64 - level) == 0 }

    /// Whether `key` is in the sample's scope now (once out, always out: the level only rises).
    @inline(__always)
    public func isSampled(_ key: CacheKey) -> Bool { Self.passes(Self.sampleHash(key), level: self.level.load(ordering: .relaxed)) }

    /// The minute (since the epoch) of `seconds`, as the sample stores it.
    @inlinable
    public static func minute(_ seconds: Double) -> UInt32 { UInt32(clamping: Int64(seconds / 60)) }

    /// Notes that caller `bit` asked `keys` in `minute` (`OverlapSample.minute(now)`).
    public func note(_ keys: some Sequence<CacheKey>, caller bit: Int, minute: UInt32) {
        precondition((0..<64).contains(bit))
        self.state.withLock { s in
            for key in keys {
                let h = Self.sampleHash(key)
                guard Self.passes(h, level: s.level) else { continue }
                s.entries[h, default: Entry()].note(bit: bit, minute: minute)
            }
            while s.entries.count > self.capacity && s.level < 63 {
                s.level += 1
                let level = s.level
                s.entries = s.entries.filter { Self.passes($0.key, level: level) }
            }
            self.level.store(s.level, ordering: .relaxed)
        }
    }

    /// The sample as it is: its level and each sampled key's hash, caller mask and minutes.
    public func export() -> (level: Int, entries: [OverlapEntry]) {
        self.state.withLock { s in (s.level, s.entries.map { OverlapEntry(hash: $0.key, mask: $0.value.mask, seen: $0.value.seen) }) }
    }

    /// The relative standard error of a figure backed by `sampled` keys at `level`.
    public static func relativeError(sampled: Int, level: Int) -> Double {
        guard level > 0, sampled > 0 else { return 0 }
        let p = 1 / Double(UInt64(1) << UInt64(level))
        return (1 - p).squareRoot() / Double(sampled).squareRoot()
    }
}

/// One sampled key: its hash, the callers that asked it (a bit each) and the minute each last did
/// (`seen[k]` for the k-th set bit of `mask`).
public struct OverlapEntry: Sendable, Equatable {
    public var hash: UInt64
    public var mask: UInt64
    public var seen: [UInt32]

    public init(hash: UInt64, mask: UInt64, seen: [UInt32]) {
        (self.hash, self.mask, self.seen) = (hash, mask, seen)
    }
}

/// Overlap figures estimated from one or more samples (merged by key).
public struct OverlapEstimate: Sendable, Codable, Equatable {
    public struct Pair: Sendable, Codable, Equatable {
        public var a: String
        public var b: String
        public var keys: Double
        public var relativeError: Double
    }

    /// Sampling level (p = 2^-level); 0 = exact.
    public var level: Int
    /// Distinct keys, and distinct keys asked by two or more callers.
    public var distinctKeys: Double
    public var multiCallerKeys: Double
    public var multiCallerRelativeError: Double
    /// Distinct keys per caller.
    public var perCaller: [String: Double]
    /// Caller pairs by keys shared, most first.
    public var pairs: [Pair]

    /// Merges samples whose callers are named by bit (`callers[bit]`); callers named in `excluded`
    /// (the peers' pseudo-caller) do not count, nor do askings before minute `since`.
    public static func merge(_ samples: [(level: Int, entries: [OverlapEntry], callers: [String])],
                             excluding excluded: Set<String> = [], since: UInt32 = 0, topPairs: Int = 10) -> OverlapEstimate {
        let level = samples.map(\.level).max() ?? 0
        var byKey: [UInt64: Set<String>] = [:]
        for s in samples {
            for e in s.entries where OverlapSample.passes(e.hash, level: level) {
                var rank = 0
                for bit in 0..<64 where e.mask & (1 << UInt64(bit)) != 0 {
                    defer { rank += 1 }
                    guard bit < s.callers.count, rank < e.seen.count, e.seen[rank] >= since, !excluded.contains(s.callers[bit]) else { continue }
                    byKey[e.hash, default: []].insert(s.callers[bit])
                }
            }
        }
        let scale = Double(UInt64(1) << UInt64(level))
        var perCaller: [String: Int] = [:]
        var pairCounts: [String: (String, String, Int)] = [:]
        var multi = 0
        for callers in byKey.values where !callers.isEmpty {
            for c in callers { perCaller[c, default: 0] += 1 }
            guard callers.count > 1 else { continue }
            multi += 1
            let sorted = callers.sorted()
            for i in 0..<sorted.count {
                for j in (i + 1)..<sorted.count {
                    let k = sorted[i] + "\u{0}" + sorted[j]
                    pairCounts[k, default: (sorted[i], sorted[j], 0)].2 += 1
                }
            }
        }
        let pairs = pairCounts.values.sorted { ($0.2, $1.0) > ($1.2, $0.0) }.prefix(topPairs).map {
            Pair(a: $0.0, b: $0.1, keys: Double($0.2) * scale, relativeError: OverlapSample.relativeError(sampled: $0.2, level: level))
        }
        return OverlapEstimate(
            level: level, distinctKeys: Double(byKey.values.filter { !$0.isEmpty }.count) * scale, multiCallerKeys: Double(multi) * scale,
            multiCallerRelativeError: OverlapSample.relativeError(sampled: multi, level: level),
            perCaller: perCaller.mapValues { Double($0) * scale }, pairs: Array(pairs))
    }
}
