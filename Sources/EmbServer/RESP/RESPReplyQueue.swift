// The order of a RESP connection's replies, and the only place it is kept. Redis clients pipeline:
// reply n must leave after reply n-1 whatever finished first (a hit is answered at once, a miss
// seconds later on the encoder). Each request reserves a sequence number; a reply whose turn it is
// goes straight into the output, a later one waits in `waiting` until every earlier one is out.
// Async replies are "pending" until they land or the request timeout expires them (-BUSY in their
// slot, so the connection is never held behind a stalled request; a late answer is then dropped).
// QUIT and framing errors end the connection after their reply: `takeFlush` says when to close.
import NIOCore

/// Sequence numbers, parked replies and the output of one RESP connection (a value type: the
/// handler owns one, tests drive one).
package struct RESPReplyQueue {
    /// The sequence number the next request gets.
    package private(set) var nextSequence = 0
    /// The sequence number of the next reply to write.
    package private(set) var writeSequence = 0
    /// Replies completed ahead of their turn, by sequence number.
    private var waiting: [Int: ByteBuffer] = [:]
    /// Bytes ready to send, in order. The hit path writes its reply straight in here when its turn
    /// has come (`canWriteDirectly`), then calls `wroteDirectly`.
    package var output = ByteBuffer()
    /// The reply after which the connection closes (QUIT, a framing error); nil while open.
    package private(set) var closeAfter: Int?
    /// Async replies not yet landed (their timeout may still expire them).
    private var pending = Set<Int>()

    package init() {}

    /// A sequence number for the request just framed.
    @inline(__always)
    package mutating func reserve() -> Int {
        defer { self.nextSequence += 1 }
        return self.nextSequence
    }

    /// Whether reply `sequence` may be written straight into `output` (nothing ahead of it waits).
    @inline(__always)
    package func canWriteDirectly(_ sequence: Int) -> Bool { sequence == self.writeSequence }

    /// Reply `sequence` was written into `output` in its turn (`canWriteDirectly`).
    @inline(__always)
    package mutating func wroteDirectly(_ sequence: Int) {
        precondition(sequence == self.writeSequence, "a reply written out of its turn")
        self.writeSequence += 1
        if !self.waiting.isEmpty { self.drainWaiting() }
    }

    /// Completes reply `sequence` with `write`: into the output if its turn has come, else into a
    /// buffer of its own that waits for it.
    package mutating func complete(_ sequence: Int, write: (inout ByteBuffer) -> Void) {
        guard sequence == self.writeSequence else {
            var reply = ByteBuffer()
            write(&reply)
            self.waiting[sequence] = reply
            return
        }
        write(&self.output)
        self.writeSequence += 1
        if !self.waiting.isEmpty { self.drainWaiting() }
    }

    package mutating func complete(_ sequence: Int, _ reply: ByteBuffer) {
        var reply = reply
        self.complete(sequence) { $0.writeBuffer(&reply) }
    }

    private mutating func drainWaiting() {
        while var next = self.waiting.removeValue(forKey: self.writeSequence) {
            self.output.writeBuffer(&next)
            self.writeSequence += 1
        }
    }

    /// Replies `sequences` will come from async work (their timeout is armed by the caller).
    package mutating func awaitAsync(_ sequences: [Int]) {
        for sequence in sequences { self.pending.insert(sequence) }
    }

    /// Async reply `sequence` landed: completed if still pending. False: it had expired, and the
    /// late answer is dropped.
    @discardableResult
    package mutating func deliver(_ sequence: Int, _ reply: ByteBuffer) -> Bool {
        guard self.pending.remove(sequence) != nil else { return false }
        self.complete(sequence, reply)
        return true
    }

    /// The request timeout of `sequences` fired: each one still pending is answered `reply`.
    /// Returns how many were.
    package mutating func expire(_ sequences: [Int], with reply: ByteBuffer) -> Int {
        var expired = 0
        for sequence in sequences where self.pending.remove(sequence) != nil {
            self.complete(sequence, reply)
            expired += 1
        }
        return expired
    }

    /// The connection closes once reply `sequence` is written (QUIT, a framing error, a refusal).
    package mutating func closeAfterReply(_ sequence: Int) {
        if self.closeAfter == nil { self.closeAfter = sequence }
    }

    /// QUIT or a framing error was seen: no later request is run.
    package var isClosing: Bool { self.closeAfter != nil }

    /// What to write now, and whether to close the connection once it is written (the close-after
    /// reply is in it). Nil: nothing to write. The next output is sized like this one when it was
    /// large (a pipelined burst of 16 vectors is ~25 KB, and growing from 4 KB would copy it three
    /// times over); after a small one nothing is kept, so an idle connection holds no buffer (4 KiB
    /// each was 40 MiB at 10k idle connections, Scripts/bench-memory).
    package mutating func takeFlush() -> (bytes: ByteBuffer, close: Bool)? {
        guard self.output.readableBytes > 0 else { return nil }
        let chunk = self.output
        self.output = chunk.readableBytes > 4096 ? ByteBufferAllocator().buffer(capacity: chunk.readableBytes) : ByteBuffer()
        let close = self.closeAfter.map { self.writeSequence > $0 } ?? false
        return (chunk, close)
    }
}
