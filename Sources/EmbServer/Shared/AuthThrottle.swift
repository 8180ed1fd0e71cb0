// Slows password guessing to a crawl, without blocking the event loop and without a timing channel.
//
// Failed attempts are counted per client address (node-wide, over RESP and HTTP alike). Once an
// address has failed, EVERY later attempt from it — right or wrong — is judged only after a delay
// that doubles per failure (0.1 s, 0.2 s, 0.4 s … capped at 1.6 s). Judging after the delay, rather
// than delaying only the refusal, matters: if only failures were slow, a client could give up on
// any answer that takes longer than a millisecond and guess at wire speed. Attempts from one address
// are also serialized (each waits for the one before it plus the delay), so opening many
// connections does not multiply the rate; and an address whose queue is already `maxQueued` seconds
// long is refused at once without its password being looked at. A connection waiting on a delayed
// attempt reads nothing more (RESPConnectionHandler pauses), so pipelined guesses wait their turn.
// An address is forgotten a minute after its last failure; the table is bounded.
//
// With the defaults an address gets about 37 guesses a minute after its first 5 failures.
//
// Why the cap is 1.6 s and not more: a delayed answer must still arrive as an answer. Clients give up
// reading after their own timeout (Jedis 2 s, go-redis 3 s, redis-py 5 s), and redis-py ≥ 6 retries an
// AuthenticationError on a new connection up to 10 times by default; with a 5 s cap its later retries
// timed out, so a wrong password surfaced as "Timeout reading from …" instead of WRONGPASS, and a right
// password from an address shared with a misconfigured client (NAT) failed the same way.
import Foundation
import Synchronization

/// Per-address failure counts and the delays they impose (see the file comment).
public final class AuthThrottle: Sendable {
    public struct Policy: Sendable {
        public var baseDelay = 0.1
        public var maxDelay = 1.6
        public var forgetAfter = 60.0
        /// Seconds of already-queued attempts beyond which an address is refused outright.
        public var maxQueued = 30.0
        /// Addresses remembered at most (the table must not grow under an attack from many addresses).
        public var maxTracked = 4096
        public init() {}
    }

    /// What to do with an attempt.
    public enum Verdict: Equatable, Sendable {
        /// Judge the password now.
        case now
        /// Judge it after this many seconds (the connection waits, reading nothing).
        case after(Double)
        /// Too many queued attempts from this address: refuse without judging.
        case refuse
    }

    struct Entry {
        var failures: Int
        var lastFailure: Double
        /// When the last scheduled attempt from this address is judged.
        var nextSlot: Double
    }

    public let policy: Policy
    private let table = Mutex<[String: Entry]>([:])
    private let failureCount = Atomic<Int>(0)

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Monotonic seconds (the default clock of the callers).
    public static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// When an attempt from `address` may be judged.
    public func verdict(for address: String, now: Double = AuthThrottle.now()) -> Verdict {
        self.table.withLock { table in
            guard var e = table[address] else { return .now }
            guard now - e.lastFailure < self.policy.forgetAfter else {
                table[address] = nil
                return .now
            }
            let start = max(now, e.nextSlot)
            guard start - now <= self.policy.maxQueued else { return .refuse }
            let at = start + self.delay(failures: e.failures)
            e.nextSlot = at
            table[address] = e
            return .after(at - now)
        }
    }

    /// Counts a failed attempt from `address`.
    public func recordFailure(_ address: String, now: Double = AuthThrottle.now()) {
        self.failureCount.add(1, ordering: .relaxed)
        self.table.withLock { table in
            if table[address] == nil && table.count >= self.policy.maxTracked {
                table = table.filter { now - $0.value.lastFailure < self.policy.forgetAfter }
                if table.count >= self.policy.maxTracked, let oldest = table.min(by: { $0.value.lastFailure < $1.value.lastFailure }) {
                    table[oldest.key] = nil
                }
            }
            var e = table[address] ?? Entry(failures: 0, lastFailure: now, nextSlot: now)
            e.failures = min(e.failures + 1, 64)
            e.lastFailure = now
            table[address] = e
        }
    }

    /// The delay after `failures` failures: base × 2^(failures − 1), capped.
    func delay(failures: Int) -> Double {
        min(self.policy.maxDelay, self.policy.baseDelay * pow(2, Double(max(0, min(failures, 32) - 1))))
    }

    /// Failed attempts since start (INFO, metrics).
    public var failures: Int { self.failureCount.load(ordering: .relaxed) }

    /// Addresses currently remembered.
    public var tracked: Int { self.table.withLock { $0.count } }
}
