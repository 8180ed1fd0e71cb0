// One RESP connection: NIO events in, calls on its state machines, actions out. It frames requests
// (EmbRESP.RESPParser, straight from the read buffer), hands each to its concern, and writes what
// the reply queue says is ready:
//   RESPReplyQueue        the order of replies (reserve, complete, expire, takeFlush);
//   RESPFlowStateMachine  paused for auth or for output, bytes held, idle ticks;
//   RESPSession           protocol version, auth, name, model, peer role (session commands; the
//                         TLS handshake's outcome says whether the connection may be a peer's);
//   RESPHitPath           hits from L1 into the output, the burst's counts and savings charge;
//   RESPL2Fetch           the burst's L2 lookups on this loop;
// and RESPConnectionHandler+Requests routes every other request (async lookups, forwards, the
// node's commands). Output is flushed once per read burst, so a pipelined -P 16 costs one write.
// Errors are per connection: a bad client gets an error reply or, when the stream can no longer
// be framed, is closed; nothing it sends reaches another connection.
import EmbNode
import EmbRESP
import EmbTLS
import NIOCore

final class RESPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ServerContext
    var session: RESPSession
    var replies = RESPReplyQueue()
    private var flow: RESPFlowStateMachine
    let hits: RESPHitPath
    let l2: RESPL2Fetch
    /// Bytes received and not yet framed (a request cut across reads, or held during an AUTH delay).
    private var inbound: ByteBuffer?
    private(set) var parser: RESPParser
    private var idleTicks: RepeatedTask?
    private var flushScheduled = false

    init(server: ServerContext, limits: RESPLimits, idleTimeout: TimeAmount) {
        self.server = server
        let session = RESPSession(id: server.connectionID(), lanes: server.lanes, passwordSet: server.secret != nil,
                                  serverVersion: server.version, peerCertificateRequired: server.tls?.requiresPeerCertificate == true,
                                  callerLabel: { server.callerLabel($0) })
        self.session = session
        self.hits = RESPHitPath(server: server, session: session)
        self.l2 = RESPL2Fetch(server: server)
        self.parser = RESPParser(limits: limits)
        self.flow = RESPFlowStateMachine(idleTimeout: idleTimeout, now: .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // The loop's clock (a test's EmbeddedEventLoop moves it by hand).
        self.flow = RESPFlowStateMachine(idleTimeout: self.flow.idleTimeout, now: context.eventLoop.now)
        let loop = context.eventLoop
        self.idleTicks = context.closeWhenIdle(every: self.flow.tickInterval) {
            self.flow.tick(now: loop.now) == .close  // the cycle (handler, task) ends in handlerRemoved
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTicks?.cancel()
        self.idleTicks = nil
    }

    /// Frames requests straight from the read buffer (no per-request pipeline hop: ByteToMessageHandler's
    /// generic plumbing cost more than the parse at a million requests a second).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        if var pending = self.inbound {
            pending.writeBuffer(&buffer)
            buffer = pending
            self.inbound = nil
        }
        guard self.flow.read() == .process else {
            // Read before an AUTH pause took hold: kept, run when the AUTH is judged.
            self.inbound = buffer
            return
        }
        defer { self.hits.commitBurst() }
        do {
            while true {
                if self.parser.isIdle { self.serveLeadingHits(&buffer, context: context) }  // +Requests
                guard let frame = try self.parser.next(&buffer) else { break }
                let sequence = self.replies.reserve()
                switch frame {
                case .rejected(let error):
                    var reply = ByteBuffer()
                    reply.writeError(error)
                    self.replies.complete(sequence, reply)
                case .command(let command):
                    self.run(command, sequence: sequence, context: context)  // +Requests
                }
                if self.replies.isClosing || self.flow.pausedForAuth { break }
            }
        } catch {
            // The stream can no longer be framed: answer in order, then close (as Redis does).
            var reply = ByteBuffer()
            reply.writeError(error)
            self.closeAfter(reply)
            self.flush(context: context)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            guard buffer.readableBytes <= self.server.limits.maxRequestBytes else { return self.refuseHugeRequest(context) }
            self.inbound = buffer
        }
        self.fetchDeferredFromL2(context: context)  // +Requests
        self.runDeferredEmbeds(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush(context: context)
    }

    /// A TLS door's handshake ended (EmbTLS.TLSSessionWatch): on a mutual-TLS port, whether this
    /// connection showed the cluster CA's client certificate and so may send PEER.* commands.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let outcome = event as? TLSHandshakeOutcome { self.session.tlsHandshake(peerCommandsAllowed: outcome.peerCommandsAllowed) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Output and flow

    func flush(context: ChannelHandlerContext) {
        guard let (bytes, close) = self.replies.takeFlush() else { return }
        if close {
            context.writeAndFlush(self.wrapOutboundOut(bytes)).whenComplete { _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
            if !context.channel.isWritable { self.checkOutput(context) }
        }
    }

    /// Flushes at the end of this event-loop tick: replies completed by several link callbacks in one
    /// tick (a pipelined burst answered from L2 or a peer) leave in one write.
    func scheduleFlush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushScheduled = false
            handler.flush(context: context)
        }
    }

    /// Answers the next request slot with `reply`, after which the connection closes.
    private func closeAfter(_ reply: ByteBuffer) {
        let sequence = self.replies.reserve()
        self.replies.closeAfterReply(sequence)
        self.replies.complete(sequence, reply)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.flow.writability(context.channel.isWritable) {
            self.resumeReading(context)
        } else {
            self.checkOutput(context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Drops the connection when its unsent output is over the cap (replies already owed may push
    /// NIO's buffer past the watermark: async ones landing while paused, one huge MEMBED).
    private func checkOutput(_ context: ChannelHandlerContext) {
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
            buffered > self.server.limits.maxOutputBytes
        else { return self.updateReading(context) }
        self.server.metrics.droppedForOutput()
        context.close(promise: nil)
    }

    private func updateReading(_ context: ChannelHandlerContext) {
        _ = try? context.channel.syncOptions?.setOption(.autoRead, value: self.flow.shouldRead)
    }

    /// Resumes reading, and runs requests that arrived meanwhile (an empty read runs what `inbound` holds).
    private func resumeReading(_ context: ChannelHandlerContext) {
        self.updateReading(context)
        guard self.flow.shouldRead else { return }
        self.channelRead(context: context, data: NIOAny(ByteBuffer()))
        self.flush(context: context)
    }

    /// An unfinished request has grown past `maxRequestBytes` (each argument is within the parser's
    /// limits, but 2049 of them could be 128 MiB): answered in order, then closed, as a framing error is.
    private func refuseHugeRequest(_ context: ChannelHandlerContext) {
        self.closeAfter(RESPReply.error("ERR Protocol error: request over \(self.server.limits.maxRequestBytes) bytes"))
        self.fetchDeferredFromL2(context: context)
        self.runDeferredEmbeds(context: context)
        self.flush(context: context)
    }

    // MARK: Async replies

    /// Runs `work` off the event loop and slots its replies (one per sequence number) in order; a
    /// request not answered within the request timeout gets -BUSY in its slot (the late answer is dropped).
    func runAsync(_ sequences: [Int], context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> [ByteBuffer]) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        self.replies.awaitAsync(sequences)
        let timeout = loop.scheduleTask(in: .nanoseconds(Int64(self.server.limits.requestTimeout * 1e9))) {
            let (handler, context) = bound.value
            let expired = handler.replies.expire(sequences, with: RESPReply.timedOut)
            guard expired > 0 else { return }
            handler.server.metrics.timedOut(expired)
            handler.flush(context: context)
        }
        Task {
            let replies = await work()
            loop.execute {
                let (handler, context) = bound.value
                timeout.cancel()
                for (sequence, reply) in zip(sequences, replies) { handler.replies.deliver(sequence, reply) }
                handler.flush(context: context)
            }
        }
    }

    /// Runs `work` off the event loop and slots its reply in order when it is done.
    func runAsync(_ sequence: Int, context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> ByteBuffer) {
        self.runAsync([sequence], context: context) { [await work()] }
    }

    // MARK: Session

    /// Answers a session command's outcome; a password is judged by the AuthGate first.
    func answer(_ outcome: RESPSession.Outcome, sequence: Int, context: ChannelHandlerContext) {
        switch outcome {
        case .reply(let reply, let change):
            self.replies.complete(sequence, reply)
            self.sessionChanged(change)
        case .judge(let password, let pending):
            self.authenticate(password, pending, sequence: sequence, context: context)
        }
    }

    /// Re-binds what depends on the session (the hit path's lane, memo and account) after `change`.
    func sessionChanged(_ change: RESPSession.Change) {
        guard !change.isEmpty else { return }
        self.hits.rebind(self.session)
    }

    /// Judges `password` now, or after the throttle's delay with reading paused (nothing read after
    /// the AUTH runs until it is judged, and the event loop never sleeps: the wait is a scheduled task).
    private func authenticate(_ password: ByteBuffer, _ pending: RESPSession.PendingAuth, sequence: Int, context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let gate = self.server.authGate
        switch gate.verdict(for: address, door: "resp") {
        case .now:
            let (reply, change) = self.session.judged(gate.judge(password.readableBytesView, address: address, door: "resp"), pending)
            self.replies.complete(sequence, reply)
            self.sessionChanged(change)
        case .refuse:
            self.replies.closeAfterReply(sequence)
            self.replies.complete(sequence, RESPReply.tooManyAuthFailures)
        case .after(let seconds):
            self.flow.pauseForAuth()
            self.updateReading(context)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                let (handler, context) = bound.value
                let (reply, change) = handler.session.judged(gate.judge(password.readableBytesView, address: address, door: "resp"), pending)
                handler.replies.complete(sequence, reply)
                handler.sessionChanged(change)
                handler.flush(context: context)
                if handler.flow.authJudged() { handler.resumeReading(context) } else { handler.updateReading(context) }
            }
        }
    }
}
