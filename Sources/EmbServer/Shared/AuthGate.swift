// The one credential check of both doors: a RESP password (AUTH, HELLO ... AUTH) and an HTTP bearer
// token are the same cluster secret, compared in constant time (`Secret.matches`), after the delay
// the client's address has earned by failing (AuthThrottle). What a door does while it waits (RESP
// pauses reading, HTTP holds the request) is the door's business; the verdict and the count are here.
import EmbCluster

/// Throttle + constant-time comparison against the cluster secret.
package struct AuthGate: Sendable {
    package let secret: Secret?
    package let throttle: AuthThrottle
    let metrics: NodeMetrics

    init(secret: Secret?, throttle: AuthThrottle, metrics: NodeMetrics) {
        (self.secret, self.throttle, self.metrics) = (secret, throttle, metrics)
    }

    /// Whether a secret is set (with none, the node is open and every credential is refused as
    /// "no password configured").
    package var isClosed: Bool { self.secret != nil }

    /// When an attempt from `address` may be judged. A refusal counts as a failure of `door`.
    func verdict(for address: String, door: String) -> AuthThrottle.Verdict {
        let verdict = self.throttle.verdict(for: address)
        if verdict == .refuse { self.metrics.authFailure(door) }
        return verdict
    }

    /// Compares `candidate` with the secret in constant time; a wrong or missing one is counted
    /// against `address` (its next attempt waits longer) and as a failure of `door`.
    func judge<C: Collection>(_ candidate: C?, address: String, door: String) -> Bool where C.Element == UInt8 {
        guard let secret = self.secret else { return false }
        if let candidate, secret.matches(candidate) { return true }
        self.throttle.recordFailure(address)
        self.metrics.authFailure(door)
        return false
    }
}
