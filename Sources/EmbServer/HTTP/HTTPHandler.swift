// The HTTP door: NIOHTTP1 decodes requests (HTTPRequestDecoder), this handler routes each complete
// request (HTTPRoutes, HTTPHandler+Embeddings) and writes each answer as one buffer of bytes
// (HTTPResponse): no response encoder, no pipeline handler. It keeps the two things those did for
// us: answers leave in request order (a pipelined request that arrives while one is answered off
// the loop waits in `queued`, and reading pauses), and a malformed request gets a 400 and a close.
// Bearer tokens are judged by the AuthGate, which RESP passwords share; from an address that has
// failed, a request is judged only after its delay (the connection's later requests wait behind it).
// Errors are per connection.
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1

final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    /// Largest request body: 2048 texts of up to 64 KiB would be 128 MiB; 32 MiB covers real batches.
    static let maxBody = 32 << 20
    /// One request: its head, its body, whether the body went over `maxBody` (then dropped).
    struct Request {
        let head: HTTPRequestHead
        var body = ByteBuffer()
        var tooLarge = false
    }

    let server: ServerContext
    /// The savings charge and hit metrics of this connection (shared with RESP: Accounting).
    let accounting: Accounting
    private var receiving: Request?
    /// Complete requests waiting for the one being answered off the loop.
    private var queued = CircularBuffer<Request>()
    /// A request is being answered off the loop (or waits out an auth delay); its timeout.
    private var inFlight: (id: Int, timer: Scheduled<Void>?)?
    private var requestIDs = 0
    private var wroteSinceFlush = false
    /// The last POST /v1/embeddings' model, input type and caller, resolved (HTTPHandler+Embeddings).
    var resolved: EmbeddingsResolution?
    /// Text hash -> key for the resolved lane and caller, as RESP keeps one (forgotten when they change).
    let knownKeys = KnownKeyMemo()
    /// The request counter of POST /v1/embeddings, looked up once per connection.
    private(set) lazy var embeddingsRequests = self.server.metrics.requestCounter("http", "embeddings")

    /// The idle timeout (Shared/IdleTimer): a keep-alive connection silent this long is closed, so idle
    /// sockets cannot hold the node's connection slots for ever.
    private var idle: IdleTimer
    private var idleTicks: RepeatedTask?

    init(server: ServerContext, idleTimeout: TimeAmount) {
        self.server = server
        self.accounting = Accounting(metrics: server.metrics)
        self.idle = IdleTimer(timeout: idleTimeout, now: .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        self.idle = IdleTimer(timeout: self.idle.timeout, now: loop.now)
        self.idleTicks = context.closeWhenIdle(every: self.idle.tickInterval) { self.idle.tick(now: loop.now) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTicks?.cancel()
        self.idleTicks = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.idle.noteRead()
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.receiving = Request(head: head)
        case .body(var chunk):
            guard var request = self.receiving else { return }
            self.receiving = nil  // unique while it grows (no copy of the body)
            if request.body.readableBytes + chunk.readableBytes > Self.maxBody {
                request.tooLarge = true
                request.body.clear()
            } else if request.tooLarge {
                // Over the limit already: the rest is dropped.
            } else if request.body.readableBytes == 0 {
                request.body = chunk  // a body in one read (the usual case): kept as it is, not copied
            } else {
                request.body.writeBuffer(&chunk)
            }
            self.receiving = request
        case .end:
            guard let request = self.receiving else { return }
            self.receiving = nil
            if self.inFlight != nil {
                self.queued.append(request)
                _ = try? context.channel.syncOptions?.setOption(.autoRead, value: false)  // the client waits for its answers
            } else {
                self.handle(request, context: context)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.wroteSinceFlush {
            self.wroteSinceFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the decoder cannot parse: 400 and close (what HTTPServerProtocolErrorHandler did).
        if error is HTTPParserError, self.inFlight == nil {
            let bytes = HTTPResponse(status: .badRequest, contentType: "text/plain", body: ByteBuffer()).encoded(version: .http1_1, keepAlive: false)
            context.writeAndFlush(self.wrapOutboundOut(bytes)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }

    // MARK: Routing

    private func handle(_ request: Request, context: ChannelHandlerContext) {
        let path = request.head.uri.firstIndex(of: "?").map { String(request.head.uri[..<$0]) } ?? request.head.uri
        guard self.server.secret != nil, HTTPRoutes.requiresAuth(path, metricsPublic: self.server.metricsPublic) else {
            return self.answer(self.route(request, path: path, context: context), to: request.head, context: context)
        }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let gate = self.server.authGate
        switch gate.verdict(for: address, door: "http") {
        case .now:
            guard self.judge(request, address: address, context: context) else { return }
            self.answer(self.route(request, path: path, context: context), to: request.head, context: context)
        case .refuse:
            self.answer(.now(HTTPRoutes.tooManyFailures), to: request.head, context: context)
        case .after(let seconds):
            // The connection's later requests wait behind this one, as behind any request answered later.
            let id = self.begin(timer: nil)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                let (handler, context) = bound.value
                guard handler.end(id) else { return }
                if handler.judge(request, address: address, context: context) {
                    handler.answer(handler.route(request, path: path, context: context), to: request.head, context: context)
                }
                handler.flushAndContinue(context)
            }
        }
    }

    /// Checks the bearer token; answers 401 (the gate counts the failure) when it is missing or wrong.
    private func judge(_ request: Request, address: String, context: ChannelHandlerContext) -> Bool {
        let token = HTTPRoutes.bearerToken(request.head.headers)
        if self.server.authGate.judge(token?.utf8, address: address, door: "http") { return true }
        self.answer(.now(HTTPRoutes.unauthorized(tokenGiven: token != nil)), to: request.head, context: context)
        return false
    }

    private func route(_ request: Request, path: String, context: ChannelHandlerContext) -> HTTPAnswer {
        if let answer = HTTPRoutes.answer(request.head, path: path, server: self.server) { return answer }
        guard !request.tooLarge else {
            return .now(.error(.payloadTooLarge, "request body over \(Self.maxBody) bytes", type: "invalid_request_error"))
        }
        return self.embeddings(request, context: context)  // HTTPHandler+Embeddings
    }

    // MARK: Answers

    /// Writes `answer` for the request `head` (flushed at the end of the read burst), or starts it
    /// off the loop under the request timeout.
    private func answer(_ answer: HTTPAnswer, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        switch answer {
        case .now(let response):
            let keepAlive = head.isKeepAlive
            self.write(response.encoded(version: head.version, keepAlive: keepAlive), keepAlive: keepAlive, context: context)
        case .framed(let bytes, let keepAlive):
            self.write(bytes, keepAlive: keepAlive, context: context)
        case .later(let work):
            self.runAsync(head, context: context, work)
        }
    }

    private func write(_ bytes: ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext) {
        if keepAlive {
            context.write(self.wrapOutboundOut(bytes), promise: nil)
            self.wroteSinceFlush = true
        } else {
            context.writeAndFlush(self.wrapOutboundOut(bytes)).whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Runs `work` off the event loop; a request not answered within `limits.requestTimeout` (the
    /// encoder queue is long, a peer is stalled) is answered 503, the same answer as a full queue,
    /// so clients retry, and the late result, if it ever comes, is dropped.
    private func runAsync(_ head: HTTPRequestHead, context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> HTTPResponse) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let seconds = self.server.limits.requestTimeout
        let id = self.begin(timer: nil)
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            let (handler, context) = bound.value
            guard handler.end(id) else { return }
            handler.server.metrics.timedOut(1)
            let response = HTTPResponse.error(.serviceUnavailable, "request timed out after \(seconds) s; try again later", type: "server_error",
                                              code: "timeout")
            handler.answer(.now(response), to: head, context: context)
            handler.flushAndContinue(context)
        }
        self.inFlight?.timer = timer
        Task {
            let response = await work()
            loop.execute {
                let (handler, context) = bound.value
                guard handler.end(id) else { return }  // timed out: already answered 503
                handler.answer(.now(response), to: head, context: context)
                handler.flushAndContinue(context)
            }
        }
    }

    /// Marks a request as answered off the loop; its id for `end`.
    private func begin(timer: Scheduled<Void>?) -> Int {
        self.requestIDs += 1
        self.inFlight = (self.requestIDs, timer)
        return self.requestIDs
    }

    /// True when request `id` is still owed an answer (it did not time out); disarms its timeout.
    private func end(_ id: Int) -> Bool {
        guard let current = self.inFlight, current.id == id else { return false }
        current.timer?.cancel()
        self.inFlight = nil
        return true
    }

    /// After an answer off the loop: flush it, then answer the requests that queued behind it.
    private func flushAndContinue(_ context: ChannelHandlerContext) {
        while self.inFlight == nil, let next = self.queued.popFirst() { self.handle(next, context: context) }
        self.channelReadComplete(context: context)
        if self.inFlight == nil { _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true) }
    }
}
