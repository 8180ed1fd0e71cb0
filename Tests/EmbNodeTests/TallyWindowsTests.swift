// Windows of the savings ledger: a bucket is cleared when its time unit comes round again, and a
// window sums exactly the buckets inside it.
import EmbNode
import Testing

@Suite struct TallyWindowsTests {
    static func tally(_ tier: Tier, _ n: Int, tokens: Int) -> Tally {
        var t = Tally()
        t.requests = 1
        t.add(tier, texts: n, tokens: tokens)
        return t
    }

    @Test func windowsCountWhatFellInsideThem() {
        var w = TallyWindows()
        let t0 = 1_000_000.0 * 3600  // on an hour boundary
        w.add(Self.tally(.computed, 5, tokens: 50), now: t0)
        w.add(Self.tally(.l1, 3, tokens: 30), now: t0 + 30)
        w.add(Self.tally(.l1, 7, tokens: 70), now: t0 + 61)
        let now = t0 + 61
        #expect(w.window(.minute, now: now).texts.total == 10)  // t0+30 and t0+61 (t0 is 61 s ago)
        #expect(w.window(.hour, now: now).texts.total == 15)
        #expect(w.window(.day, now: now).texts.total == 15)
        #expect(w.window(.total, now: now + 86_400 * 2).texts.total == 15)
        #expect(w.window(.day, now: now + 86_400 * 2).texts.total == 0)
        #expect(w.window(.hour, now: t0 + 3600 + 59).texts.total == 7)  // the minute of t0+61 is still inside
    }

    @Test func aBucketIsClearedWhenItsUnitComesRound() {
        var w = TallyWindows()
        let t0 = 7_200_000.0
        w.add(Self.tally(.l1, 1, tokens: 10), now: t0)
        w.add(Self.tally(.l1, 2, tokens: 20), now: t0 + 60)  // same second-bucket index, a minute later
        #expect(w.window(.minute, now: t0 + 60).texts.total == 2)
        #expect(w.perSecond(now: t0 + 60).last?.texts.l1 == 2)
        #expect(w.perMinute(now: t0 + 60).suffix(2).map(\.texts.l1) == [1, 2])
    }

    @Test func duplicatesAreTheTextsNobodyComputed() {
        var t = Tally()
        t.add(.l1, texts: 4, tokens: 40)
        t.add(.computed, texts: 2, tokens: 20)
        t.add(.forwarded, texts: 3, tokens: 30)
        t.ownerComputedTexts = 1
        t.ownerComputedTokens = 10
        t.add(.coalesced, texts: 1, tokens: 10)
        #expect(t.duplicateTexts == 4 + 2 + 1)
        #expect(t.duplicateTokens == 40 + 20 + 10)
        #expect(abs(t.duplicateShare - 0.7) < 1e-12)
    }
}
