// Flow control of a RESP connection, so that no client can make the node hold unbounded memory or
// wait for ever:
// - Backpressure: when the client does not read its replies, NIO's outbound buffer passes its high
//   watermark and the channel turns unwritable; the connection then stops reading requests until
//   the client catches up. A client that never reads therefore costs at most one read burst of
//   replies, and its silence closes it after the idle timeout (nothing is read from it any more).
// - Output cap: replies already owed (async ones landing while paused, one huge MEMBED) may still
//   push the buffer past `maxOutputBytes`: the connection is then dropped.
// - Request size: an unfinished request past `maxRequestBytes` is refused and the connection closed.
// - Request timeout: a request on the async path (queue, encoder, peers) not answered within
//   `requestTimeout` gets -BUSY in its slot, so later replies are not held behind it for ever; the
//   late answer, if it ever comes, is dropped.
// Reading is also paused while an AUTH attempt waits out its delay (RESPConnectionHandler+Auth).
import NIOCore

extension RESPConnectionHandler {
    static let timedOut = RESPConnectionHandler.error("BUSY request timed out, try again later")

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.outputPaused = !context.channel.isWritable
        if self.outputPaused { self.checkOutput(context) }
        self.resumeReading(context)
        context.fireChannelWritabilityChanged()
    }

    /// Drops the connection when its unsent output is over the cap.
    func checkOutput(_ context: ChannelHandlerContext) {
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
            buffered > self.server.limits.maxOutputBytes
        else { return self.updateReading(context) }
        self.server.metrics.droppedForOutput()
        context.close(promise: nil)
    }

    /// Reads from the socket only while neither an AUTH delay nor a slow reader holds it back.
    func updateReading(_ context: ChannelHandlerContext) {
        let read = !(self.authPaused || self.outputPaused)
        _ = try? context.channel.syncOptions?.setOption(.autoRead, value: read)
    }

    /// Resumes reading if nothing holds it back, and runs requests that arrived meanwhile.
    func resumeReading(_ context: ChannelHandlerContext) {
        self.updateReading(context)
        guard !self.authPaused, !self.outputPaused else { return }
        // Requests read before the pause took hold wait in `inbound`: an empty read runs them.
        self.channelRead(context: context, data: NIOAny(ByteBuffer()))
        self.flush(context: context)
    }

    /// An unfinished request has grown past `maxRequestBytes` (each argument is within the parser's
    /// limits, but 2049 of them could be 128 MiB): answered in order, then closed, as a framing error is.
    func refuseHugeRequest(_ context: ChannelHandlerContext) {
        let sequence = self.nextSequence
        self.nextSequence += 1
        self.closeAfterReply(sequence)
        self.complete(sequence, Self.error("ERR Protocol error: request over \(self.server.limits.maxRequestBytes) bytes"))
        self.fetchDeferredFromL2(context: context)
        self.runDeferredEmbeds(context: context)
        self.flush(context: context)
    }

    /// Arms the request timeout for async replies `sequences`; cancel it when they are written.
    func startTimeout(_ sequences: [Int], context: ChannelHandlerContext) -> Scheduled<Void> {
        for s in sequences { self.pendingAsync.insert(s) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let seconds = self.server.limits.requestTimeout
        return context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            let (handler, context) = bound.value
            var expired = 0
            for s in sequences where handler.pendingAsync.remove(s) != nil {
                handler.complete(s, Self.timedOut)
                expired += 1
            }
            guard expired > 0 else { return }
            handler.server.metrics.timedOut(expired)
            handler.flush(context: context)
        }
    }
}
