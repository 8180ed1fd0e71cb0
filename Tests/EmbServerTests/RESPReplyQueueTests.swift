// RESPReplyQueue: replies leave in request order whatever finishes first; a request timeout answers
// -BUSY in its slot and drops the late answer; QUIT closes after its own reply, not before.
import EmbServer
import NIOCore
import Testing

@Suite struct RESPReplyQueueTests {
    static func text(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

    static func flushed(_ q: inout RESPReplyQueue) -> (String, Bool)? {
        q.takeFlush().map { (String(buffer: $0.bytes), $0.close) }
    }

    @Test func aReplyInItsTurnGoesStraightOutAndALaterOneWaitsForTheEarlier() {
        var q = RESPReplyQueue()
        let a = q.reserve(), b = q.reserve(), c = q.reserve()
        #expect(q.canWriteDirectly(a) && !q.canWriteDirectly(b))
        q.complete(c, Self.text("c"))
        q.complete(b, Self.text("b"))
        let early = q.takeFlush()
        #expect(early == nil, "nothing may leave before reply 0")
        q.complete(a, Self.text("a"))
        let out = Self.flushed(&q)
        #expect(out! == ("abc", false))
        #expect(q.writeSequence == 3 && q.nextSequence == 3)
    }

    @Test func aHitWrittenDirectlyInItsTurnAdvancesTheQueueAndReleasesParkedReplies() {
        var q = RESPReplyQueue()
        let a = q.reserve()
        q.output.writeString("hit")
        q.wroteDirectly(a)
        let b = q.reserve(), c = q.reserve()
        q.complete(c, Self.text("-c"))
        q.complete(b, Self.text("-b"))
        let out = Self.flushed(&q)
        #expect(out! == ("hit-b-c", false))
    }

    @Test func aTimedOutRequestIsAnsweredBusyInItsSlotAndItsLateAnswerIsDropped() {
        var q = RESPReplyQueue()
        let slow = q.reserve(), fast = q.reserve()
        q.awaitAsync([slow])
        q.complete(fast, Self.text("fast;"))
        let early = q.takeFlush()
        #expect(early == nil)
        let expired = q.expire([slow], with: Self.text("busy;"))
        #expect(expired == 1)
        let out = Self.flushed(&q)
        #expect(out! == ("busy;fast;", false))
        let late = q.deliver(slow, Self.text("late;"))
        #expect(!late, "the late answer must be dropped")
        let after = q.takeFlush()
        #expect(after == nil)
        let again = q.expire([slow], with: Self.text("busy;"))
        #expect(again == 0, "an answered request is not expired twice")
    }

    @Test func anAsyncAnswerInTimeIsDeliveredAndItsTimeoutThenExpiresNothing() {
        var q = RESPReplyQueue()
        let s = q.reserve()
        q.awaitAsync([s])
        let delivered = q.deliver(s, Self.text("v"))
        let expired = q.expire([s], with: Self.text("busy"))
        let out = Self.flushed(&q)
        #expect(delivered && expired == 0)
        #expect(out! == ("v", false))
    }

    @Test func quitClosesOnlyOnceItsOwnReplyIsOutAfterEveryEarlierOne() {
        var q = RESPReplyQueue()
        let pending = q.reserve(), quit = q.reserve()
        q.awaitAsync([pending])
        q.closeAfterReply(quit)
        q.complete(quit, Self.text("+OK"))
        #expect(q.isClosing)
        let early = q.takeFlush()
        #expect(early == nil, "QUIT's reply waits for the async one before it")
        q.deliver(pending, Self.text("v;"))
        let out = Self.flushed(&q)
        #expect(out! == ("v;+OK", true))
    }

    @Test func aCloseAfterIsKeptAtTheFirstRequestThatAskedForIt() {
        var q = RESPReplyQueue()
        let first = q.reserve(), second = q.reserve()
        q.closeAfterReply(first)
        q.closeAfterReply(second)
        #expect(q.closeAfter == first)
    }
}
