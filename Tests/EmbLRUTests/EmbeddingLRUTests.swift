import EmbHash
import EmbLRU
import Foundation
import Testing

@Suite struct EmbeddingLRUTests {
    static let valueBytes = 64

    static func key(_ i: Int) -> LRUKey {
        var g = SplitMix64(seed: UInt64(i))
        return LRUKey(high: g.next(), low: g.next())
    }

    static func value(_ i: Int) -> [UInt8] { (0..<valueBytes).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) } }

    static func get(_ lru: EmbeddingLRU, _ i: Int, now: Double = 0) -> [UInt8]? {
        if case .hit(let bytes, _) = lru.lookup(key(i), now: now, { Array($0) }) { return bytes }
        return nil
    }

    static func put(_ lru: EmbeddingLRU, _ i: Int, now: Double = 0, ttl: Double = 100, delta: Double = 0.01) {
        value(i).withUnsafeBytes { lru.insert(key(i), value: $0, now: now, ttl: ttl, delta: delta) }
    }

    func oneShard(entries: Int, beta: Double = 0) -> EmbeddingLRU {
        let overhead = EmbeddingLRU(LRUConfiguration(maxBytes: 1 << 20, valueBytes: Self.valueBytes, shardCount: 1)).overheadPerEntry
        return EmbeddingLRU(LRUConfiguration(maxBytes: entries * (Self.valueBytes + overhead), valueBytes: Self.valueBytes,
                                             shardCount: 1, earlyExpiryBeta: beta))
    }

    @Test func theLeastRecentlyUsedEntryIsEvictedWhenTheByteBudgetIsFull() {
        let lru = self.oneShard(entries: 3)
        #expect(lru.stats.capacity == 3)
        for i in 0..<3 { Self.put(lru, i) }
        #expect(Self.get(lru, 0) == Self.value(0))  // 0 becomes the most recent; 1 is now the oldest
        Self.put(lru, 3)
        #expect(Self.get(lru, 1) == nil)
        for i in [0, 2, 3] { #expect(Self.get(lru, i) == Self.value(i)) }
        #expect(lru.stats.evictions == 1 && lru.stats.entries == 3)
        #expect(lru.stats.bytes <= lru.configuration.maxBytes)
    }

    @Test func insertReplacesAndRemoveForgets() {
        let lru = self.oneShard(entries: 4)
        Self.put(lru, 1)
        Self.value(9).withUnsafeBytes { lru.insert(Self.key(1), value: $0, now: 0, ttl: 10, delta: 0) }
        #expect(Self.get(lru, 1) == Self.value(9))
        #expect(lru.stats.entries == 1)
        #expect(lru.remove(Self.key(1)))
        #expect(!lru.remove(Self.key(1)))
        #expect(Self.get(lru, 1) == nil)
    }

    @Test func manyInsertsAndRemovesKeepTheIndexConsistent() {
        let lru = self.oneShard(entries: 500)
        var present = Set<Int>()
        var rng = SplitMix64(seed: 1)
        for _ in 0..<20_000 {
            let i = Int(rng.next() % 700)
            if rng.next() % 3 == 0 {
                #expect(lru.remove(Self.key(i)) == present.contains(i))
                present.remove(i)
            } else if present.count < 500 || present.contains(i) {
                Self.put(lru, i)
                present.insert(i)
            }
        }
        for i in 0..<700 { #expect((Self.get(lru, i) != nil) == present.contains(i), "key \(i)") }
    }

    @Test func entriesExpireAtTheirTTL() {
        let lru = self.oneShard(entries: 4)
        Self.put(lru, 1, now: 100, ttl: 10)
        #expect(Self.get(lru, 1, now: 109.9) != nil)
        #expect(Self.get(lru, 1, now: 110) == nil)
        #expect(lru.stats.expirations == 1)
        #expect(!lru.contains(Self.key(1), now: 100))
    }

    @Test func earlyRefreshProbabilityFollowsXFetch() {
        // P(refresh at Δ before expiry) = P(−δβ·ln U ≥ Δ) = exp(−Δ/(δβ)).
        let (delta, beta, trials) = (0.5, 2.0, 20_000)
        for gap in [0.1, 0.5, 1.0, 2.0, 3.0] {
            let lru = self.oneShard(entries: 2, beta: beta)
            var refreshes = 0
            for _ in 0..<trials {
                Self.put(lru, 1, now: 0, ttl: 10, delta: delta)  // insert clears the refreshing flag
                if case .hit(_, let refresh) = lru.lookup(Self.key(1), now: 10 - gap, { _ in () }), refresh { refreshes += 1 }
            }
            let expected = exp(-gap / (delta * beta))
            #expect(abs(Double(refreshes) / Double(trials) - expected) < 0.02, "Δ=\(gap): \(refreshes) of \(trials), expected \(expected)")
        }
    }

    @Test func onlyOneRefreshIsAskedForUntilItLandsOrIsCancelled() {
        let lru = self.oneShard(entries: 2, beta: 1000)
        Self.put(lru, 1, now: 0, ttl: 10, delta: 1)
        var asked = 0
        for _ in 0..<100 {
            if case .hit(_, let refresh) = lru.lookup(Self.key(1), now: 9.99, { _ in () }), refresh { asked += 1 }
        }
        #expect(asked == 1)
        lru.cancelRefresh(Self.key(1))
        if case .hit(_, let refresh) = lru.lookup(Self.key(1), now: 9.99, { _ in () }) { #expect(refresh) }
    }

    @Test func betaZeroNeverRefreshesEarly() {
        let lru = self.oneShard(entries: 2, beta: 0)
        Self.put(lru, 1, now: 0, ttl: 10, delta: 100)
        for _ in 0..<1000 {
            if case .hit(_, let refresh) = lru.lookup(Self.key(1), now: 9.999, { _ in () }) { #expect(!refresh) }
        }
    }

    @Test func concurrentUseKeepsEveryValueIntact() async {
        let lru = EmbeddingLRU(LRUConfiguration(maxBytes: 200 * 128, valueBytes: Self.valueBytes, shardCount: 4))
        await withTaskGroup(of: Int.self) { group in
            for t in 0..<4 {
                group.addTask {
                    var wrong = 0
                    var rng = SplitMix64(seed: UInt64(t))
                    for _ in 0..<20_000 {
                        let i = Int(rng.next() % 400)
                        if rng.next() % 2 == 0 {
                            Self.put(lru, i)
                        } else if let v = Self.get(lru, i), v != Self.value(i) {
                            wrong += 1
                        }
                    }
                    return wrong
                }
            }
            for await wrong in group { #expect(wrong == 0) }
        }
        #expect(lru.stats.entries <= lru.stats.capacity)
    }

    @Test func overheadPerEntryStaysUnderOneHundredBytesAt200kEntries() {
        let vector = 1536
        let lru = EmbeddingLRU(LRUConfiguration(maxBytes: 200_000 * (vector + 100), valueBytes: vector))
        // Counted from the layout: key, expiry, δ, flag, list links, free-list slot, and ≤ 3 index slots.
        #expect(lru.overheadPerEntry <= 100, "overhead \(lru.overheadPerEntry)")
        #expect(lru.stats.capacity >= 200_000)
    }
}
