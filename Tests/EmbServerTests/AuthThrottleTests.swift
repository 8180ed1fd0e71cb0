import EmbServer
import Testing

@Suite struct AuthThrottleTests {
    @Test func aFreshAddressIsJudgedAtOnce() {
        let t = AuthThrottle()
        #expect(t.verdict(for: "10.0.0.1", now: 100) == .now)
        #expect(t.tracked == 0)
    }

    @Test func eachFailureDoublesTheWaitOfTheNextAttemptUpToTheCap() {
        let t = AuthThrottle()
        var now = 100.0
        var waits: [Double] = []
        for _ in 0..<8 {
            if case .after(let d) = t.verdict(for: "a", now: now) {
                waits.append(d)
                now += d
            }
            t.recordFailure("a", now: now)
        }
        #expect(waits.count == 7)
        for (w, expected) in zip(waits, [0.1, 0.2, 0.4, 0.8, 1.6, 1.6, 1.6]) { #expect(abs(w - expected) < 1e-9, "\(waits)") }
        #expect(t.failures == 8)
        // Below the shortest read timeout common clients default to (Jedis 2 s): see the file comment.
        #expect(t.policy.maxDelay < 2)
    }

    @Test func concurrentAttemptsFromOneAddressQueueOneBehindAnother() {
        let t = AuthThrottle()
        t.recordFailure("a", now: 0)
        t.recordFailure("a", now: 0)  // delay 0.2 s
        let waits = (0..<4).map { _ -> Double in
            if case .after(let d) = t.verdict(for: "a", now: 0) { return d }
            return -1
        }
        #expect(waits.map { ($0 * 10).rounded() / 10 } == [0.2, 0.4, 0.6, 0.8])
        #expect(t.verdict(for: "b", now: 0) == .now)  // other addresses are not slowed
    }

    @Test func aLongQueueIsRefusedAndAnAddressIsForgottenAfterAMinute() {
        var policy = AuthThrottle.Policy()
        policy.maxQueued = 1
        let t = AuthThrottle(policy: policy)
        for _ in 0..<3 { t.recordFailure("a", now: 0) }  // 0.4 s each
        var verdicts: [AuthThrottle.Verdict] = []
        for _ in 0..<5 { verdicts.append(t.verdict(for: "a", now: 0)) }
        #expect(verdicts.suffix(2) == [.refuse, .refuse])
        #expect(t.verdict(for: "a", now: 61) == .now)
    }

    @Test func theTableIsBounded() {
        var policy = AuthThrottle.Policy()
        policy.maxTracked = 16
        let t = AuthThrottle(policy: policy)
        for i in 0..<1000 { t.recordFailure("10.0.\(i / 256).\(i % 256)", now: Double(i)) }
        #expect(t.tracked <= 16)
        #expect(t.failures == 1000)
    }
}

@Suite struct BindPolicyTests {
    @Test func onlyLoopbackCountsAsLoopback() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1"] { #expect(BindPolicy.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "10.0.0.1", "::", "example.com", "127.0.0.1.evil.com", "1270.0.0.1", ""] {
            #expect(!BindPolicy.isLoopback(host), "\(host)")
        }
    }
}
