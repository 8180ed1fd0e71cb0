// The overlap sketch against exact counts: exact while it holds every key, and within its stated
// error once it samples (Sources/EmbNode/Savings/OverlapSample.swift).
import EmbHash
import EmbNode
import Testing

@Suite struct OverlapSampleTests {
    /// Distinct keys from a seeded generator.
    static func keys(_ n: Int, seed: UInt64) -> [CacheKey] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in CacheKey(Hash128(high: g.next(), low: g.next())) }
    }

    static func estimate(_ sample: OverlapSample, _ callers: [String]) -> OverlapEstimate {
        let e = sample.export()
        return OverlapEstimate.merge([(e.level, e.entries, callers)])
    }

    @Test func belowCapacityTheSampleIsExact() {
        let sample = OverlapSample(capacity: 1024)
        let shared = Self.keys(200, seed: 1)
        let onlyA = Self.keys(150, seed: 2)
        let onlyB = Self.keys(100, seed: 3)
        sample.note(shared + onlyA, caller: 0, minute: 100)
        sample.note(shared + onlyB, caller: 1, minute: 100)
        sample.note(shared.prefix(10), caller: 1, minute: 100)  // asked again: no change
        let o = Self.estimate(sample, ["alpha", "beta"])
        #expect(o.level == 0)
        #expect(o.distinctKeys == 450)
        #expect(o.multiCallerKeys == 200)
        #expect(o.perCaller == ["alpha": 350, "beta": 300])
        #expect(o.pairs.map { "\($0.a)&\($0.b)=\($0.keys)±\($0.relativeError)" } == ["alpha&beta=200.0±0.0"])
    }

    @Test func beyondCapacityEstimatesStayWithinThreeStatedErrors() {
        // 60,000 keys per caller, half of them shared, three callers: A∩B = 30,000, C shares 10,000 with A.
        let capacity = 2048
        let sample = OverlapSample(capacity: capacity)
        let ab = Self.keys(30_000, seed: 10)
        let a = Self.keys(30_000, seed: 11)
        let b = Self.keys(30_000, seed: 12)
        let c = Self.keys(20_000, seed: 13)
        sample.note(ab + a, caller: 0, minute: 100)
        sample.note(ab + b, caller: 1, minute: 100)
        sample.note(Array(a.prefix(10_000)) + c, caller: 2, minute: 100)
        #expect(sample.export().entries.count <= capacity)
        let o = Self.estimate(sample, ["a", "b", "c"])
        #expect(o.level > 0)
        let exactMulti = 30_000.0 + 10_000.0
        let multiError = abs(o.multiCallerKeys - exactMulti) / exactMulti
        #expect(multiError <= 3 * o.multiCallerRelativeError, "multi-caller keys \(o.multiCallerKeys) vs \(exactMulti)")
        let exactDistinct = 110_000.0
        #expect(abs(o.distinctKeys - exactDistinct) / exactDistinct <= 3 * OverlapSample.relativeError(sampled: sample.export().entries.count, level: o.level))
        let pairAB = o.pairs.first { $0.a == "a" && $0.b == "b" }
        let pairAC = o.pairs.first { $0.a == "a" && $0.b == "c" }
        #expect(pairAB != nil && abs(pairAB!.keys - 30_000) / 30_000 <= 3 * pairAB!.relativeError)
        #expect(pairAC != nil && abs(pairAC!.keys - 10_000) / 10_000 <= 3 * pairAC!.relativeError)
        #expect(o.pairs.first { $0.a == "b" && $0.b == "c" } == nil)
    }

    @Test func aWindowCountsOnlyCallersThatAskedInsideIt() {
        let sample = OverlapSample(capacity: 1024)
        let old = Self.keys(50, seed: 30)
        let recent = Self.keys(20, seed: 31)
        sample.note(old + recent, caller: 0, minute: 1000)  // alpha, long ago
        sample.note(old, caller: 1, minute: 1000)  // beta, long ago
        sample.note(recent, caller: 0, minute: 1100)  // alpha again, recently
        sample.note(recent, caller: 1, minute: 1101)  // beta, recently
        let e = sample.export()
        let all = OverlapEstimate.merge([(e.level, e.entries, ["alpha", "beta"])])
        let lastHour = OverlapEstimate.merge([(e.level, e.entries, ["alpha", "beta"])], since: 1101 - 60)
        let lastMinute = OverlapEstimate.merge([(e.level, e.entries, ["alpha", "beta"])], since: 1101)
        #expect(all.multiCallerKeys == 70)
        #expect(lastHour.multiCallerKeys == 20)
        #expect(lastMinute.multiCallerKeys == 0 && lastMinute.perCaller == ["beta": 20])
    }

    @Test func samplesOfTwoNodesMergeByKey() {
        let n1 = OverlapSample(capacity: 512)
        let n2 = OverlapSample(capacity: 512)
        let shared = Self.keys(300, seed: 20)
        n1.note(shared, caller: 0, minute: 100)  // alpha asked node 1
        n2.note(Self.keys(100, seed: 21), caller: 0, minute: 100)  // some other caller is bit 0 on node 2
        n2.note(shared, caller: 1, minute: 100)  // beta asked node 2
        let e1 = n1.export(), e2 = n2.export()
        let o = OverlapEstimate.merge([(e1.level, e1.entries, ["alpha"]), (e2.level, e2.entries, ["gamma", "beta"])])
        let exact = 300.0
        #expect(o.pairs.first { $0.a == "alpha" && $0.b == "beta" }.map { abs($0.keys - exact) / exact <= 3 * max(0.01, $0.relativeError) } == true)
    }
}
