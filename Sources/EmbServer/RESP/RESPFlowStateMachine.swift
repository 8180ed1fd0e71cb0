// Flow control of a RESP connection, so that no client can make the node hold unbounded memory or
// wait for ever. Reading stops in two cases:
// - paused for auth: an AUTH attempt waits out its throttle delay (AuthGate); nothing read after
//   it runs until it is judged, so a pipeline of guesses is judged one delay apart, and the bytes
//   read before the pause took hold are held (`read` says `.hold`) and run when it ends;
// - paused for output: the client does not read its replies, NIO's outbound buffer passes its high
//   watermark and the channel turns unwritable; reading resumes when the client catches up. A
//   client that never reads therefore costs at most one read burst of replies.
// And the idle timeout (Shared/IdleTimer): a tick every quarter of it closes a connection that has
// read nothing for `idleTimeout`. Time is passed in (`tick(now:)`), so tests drive it without sleeping.
import NIOCore

/// Pauses and idleness of one RESP connection; returns what the handler must do.
package struct RESPFlowStateMachine {
    package enum ReadAction: Equatable { case process, hold }
    package enum TickAction: Equatable { case none, close }

    package private(set) var pausedForAuth = false
    package private(set) var pausedForOutput = false
    private var idle: IdleTimer

    package init(idleTimeout: TimeAmount, now: NIODeadline) {
        self.idle = IdleTimer(timeout: idleTimeout, now: now)
    }

    package var idleTimeout: TimeAmount { self.idle.timeout }

    /// How often `tick` should run: a quarter of the idle timeout.
    package var tickInterval: TimeAmount { self.idle.tickInterval }

    /// Whether the socket should be read (NIO's autoRead).
    package var shouldRead: Bool { !(self.pausedForAuth || self.pausedForOutput) }

    /// Bytes arrived: run them, or hold them while an AUTH attempt is being judged.
    @inline(__always)
    package mutating func read() -> ReadAction {
        self.idle.noteRead()
        return self.pausedForAuth ? .hold : .process
    }

    /// An AUTH attempt must wait: stop reading until `authJudged`.
    package mutating func pauseForAuth() { self.pausedForAuth = true }

    /// The attempt was judged. True: reading may resume now (held bytes are run).
    package mutating func authJudged() -> Bool {
        self.pausedForAuth = false
        return self.shouldRead
    }

    /// The channel's writability changed. True: reading may resume now (held bytes are run).
    package mutating func writability(_ writable: Bool) -> Bool {
        self.pausedForOutput = !writable
        return self.shouldRead
    }

    /// The idle tick at `now`: close a connection that has read nothing for `idleTimeout`.
    package mutating func tick(now: NIODeadline) -> TickAction {
        self.idle.tick(now: now) ? .close : .none
    }
}
