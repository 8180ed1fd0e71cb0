// One peer's health as this node sees it, as a value: never seen, up, failed, or refused (another
// cluster). The health service (PeerHealthService) asks `due(at:)`, checks the peer, and reports
// `answered` or `missed`; the transitions are here so they can be tested with a clock of the test's.
//
// A peer never seen yet is retried every 100 ms: at a cluster's start the nodes come up within a
// second of each other, and the first to listen must not wait a failed peer's 500 ms per try before
// it routes to the others. A peer that was up and stops answering is failed after 3 missed checks in
// a row (or at once when its connection is refused), then retried every 500 ms.
import Foundation

public struct PeerHealth<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public enum Status: String, Sendable {
        case neverSeen = "never_seen"
        case up
        case failed
        /// Its handshake named another cluster (or no common version): never routed to.
        case refused
    }

    public static var neverSeenRetry: Duration { .milliseconds(100) }
    public static var upInterval: Duration { .milliseconds(500) }
    public static var failedRetry: Duration { .milliseconds(500) }
    public static var refusedRetry: Duration { .seconds(5) }
    /// Checks missed in a row before an up peer is failed (a refused connection fails it at once).
    public static var missesToFail: Int { 3 }

    public private(set) var status: Status = .neverSeen
    public private(set) var misses = 0
    public private(set) var nextCheck: Instant
    /// When this node first tried the peer (readiness waits for a never-seen peer this long at most).
    public let since: Instant

    public init(now: Instant) {
        (self.nextCheck, self.since) = (now, now)
    }

    public func due(at now: Instant) -> Bool { now >= self.nextCheck }

    /// The ring may send keys to this peer.
    public var routable: Bool { self.status == .up }

    /// The peer answered a check. Returns the new status when it changed.
    @discardableResult
    public mutating func answered(at now: Instant) -> Status? {
        self.misses = 0
        self.nextCheck = now.advanced(by: Self.upInterval)
        return self.move(to: .up)
    }

    /// The peer did not answer (`refused`: its connection was refused or reset, not merely silent).
    @discardableResult
    public mutating func missed(at now: Instant, connectionRefused: Bool) -> Status? {
        self.misses += 1
        switch self.status {
        case .neverSeen:
            self.nextCheck = now.advanced(by: Self.neverSeenRetry)
            return nil
        case .up:
            self.nextCheck = now.advanced(by: Self.upInterval)
            return connectionRefused || self.misses >= Self.missesToFail ? self.move(to: .failed) : nil
        case .failed, .refused:
            self.nextCheck = now.advanced(by: self.status == .failed ? Self.failedRetry : Self.refusedRetry)
            return nil
        }
    }

    /// A forward to the peer failed: failed at once (the ring routes around it until it answers again).
    @discardableResult
    public mutating func forwardFailed(at now: Instant) -> Status? {
        guard self.status == .up else { return nil }
        self.nextCheck = now.advanced(by: Self.failedRetry)
        return self.move(to: .failed)
    }

    /// The peer's handshake refused it (another cluster's name, no common version).
    @discardableResult
    public mutating func refused(at now: Instant) -> Status? {
        self.nextCheck = now.advanced(by: Self.refusedRetry)
        return self.move(to: .refused)
    }

    /// Whether this node has a view of the peer for readiness: it answered, or failed or was refused
    /// after answering, or it has been tried for `grace` without ever answering (a peer that is down
    /// at start must not keep the node from serving).
    public func viewed(at now: Instant, grace: Duration) -> Bool {
        self.status != .neverSeen || self.since.duration(to: now) >= grace
    }

    private mutating func move(to next: Status) -> Status? {
        guard next != self.status else { return nil }
        self.status = next
        return next
    }
}
