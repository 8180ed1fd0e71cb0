// RESPFlowStateMachine with an injected clock: reading pauses for an AUTH delay (bytes held, then
// run) and for a client that does not read its replies; an idle connection is closed after the
// idle timeout and not before, and any read keeps it open.
import EmbServer
import NIOCore
import Testing

@Suite struct RESPFlowStateMachineTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// The flow's answers to ticks at `start` + each of `milliseconds`.
    static func ticks(_ flow: inout RESPFlowStateMachine, _ milliseconds: [Int64]) -> [RESPFlowStateMachine.TickAction] {
        milliseconds.map { flow.tick(now: Self.start + .milliseconds($0)) }
    }

    @Test func bytesAreRunUnlessAnAuthAttemptIsBeingJudgedThenHeldUntilItIs() {
        var flow = RESPFlowStateMachine(idleTimeout: .seconds(300), now: Self.start)
        let first = flow.read()
        flow.pauseForAuth()
        let whilePaused = flow.read()
        let reading = flow.shouldRead
        let resume = flow.authJudged()
        let after = flow.read()
        #expect(first == .process && whilePaused == .hold && !reading)
        #expect(resume, "nothing else holds reading back: resume and run the held bytes")
        #expect(after == .process && flow.shouldRead)
    }

    @Test func aClientThatDoesNotReadItsRepliesPausesReadingUntilItCatchesUp() {
        var flow = RESPFlowStateMachine(idleTimeout: .seconds(300), now: Self.start)
        let resumeOnUnwritable = flow.writability(false)
        let read = flow.read()
        #expect(!resumeOnUnwritable && !flow.shouldRead && flow.pausedForOutput)
        #expect(read == .process, "bytes already read still run: only new reads stop")
        flow.pauseForAuth()
        let resumeAfterAuth = flow.authJudged()
        #expect(!resumeAfterAuth, "still paused for output")
        let resumeOnWritable = flow.writability(true)
        #expect(resumeOnWritable && flow.shouldRead)
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTimeoutAndNotBefore() {
        var flow = RESPFlowStateMachine(idleTimeout: .seconds(8), now: Self.start)
        #expect(flow.tickInterval == .seconds(2))
        #expect(Self.ticks(&flow, [2000, 6000, 7999, 8000]) == [.none, .none, .none, .close])
    }

    @Test func aReadBetweenTicksKeepsTheConnectionOpenForAnotherTimeout() {
        var flow = RESPFlowStateMachine(idleTimeout: .seconds(8), now: Self.start)
        _ = flow.read()
        // The read is seen at the +6 s tick: idle from there.
        #expect(Self.ticks(&flow, [6000, 12000, 14000]) == [.none, .none, .close])
    }
}
