// The idle timeout of a client connection, kept by its handler rather than by NIO's
// IdleStateHandler, which is one more pipeline hop on every read, write and flush (3% of the node's
// CPU at -P 1 on RESP). A tick every quarter of the timeout notices a connection that has read
// nothing since `timeout` ago. Time is passed in: the handler gives its loop's clock, tests theirs.
import NIOCore

/// Reads seen between ticks, and when the last one was.
package struct IdleTimer {
    package let timeout: TimeAmount
    private var readSinceTick = false
    private var lastRead: NIODeadline

    package init(timeout: TimeAmount, now: NIODeadline) {
        self.timeout = timeout
        self.lastRead = now
    }

    /// How often `tick` should run: a quarter of the timeout.
    package var tickInterval: TimeAmount { .nanoseconds(max(1, self.timeout.nanoseconds / 4)) }

    /// Bytes arrived (one store: this is on every read).
    @inline(__always)
    package mutating func noteRead() { self.readSinceTick = true }

    /// The tick at `now`: true when nothing was read for `timeout` (close the connection).
    package mutating func tick(now: NIODeadline) -> Bool {
        if self.readSinceTick {
            self.readSinceTick = false
            self.lastRead = now
            return false
        }
        return now - self.lastRead >= self.timeout
    }
}

extension ChannelHandlerContext {
    /// Runs `tick` every `interval` on this context's loop until it returns true, then closes the
    /// channel; the task, to cancel when the handler is removed.
    func closeWhenIdle(every interval: TimeAmount, _ tick: @escaping () -> Bool) -> RepeatedTask {
        let bound = NIOLoopBound((self, tick), eventLoop: self.eventLoop)
        return self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { task in
            let (context, tick) = bound.value
            guard tick() else { return }
            task.cancel()
            context.close(promise: nil)
        }
    }
}
