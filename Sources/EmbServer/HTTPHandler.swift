// The HTTP interface on NIOHTTP1: POST /v1/embeddings and GET /v1/models (OpenAI-compatible),
// GET /healthz, /readyz, /metrics. Bodies are bounded; errors use OpenAI's shape {"error": {"message", "type", "param", "code"}}.
import EmbNode
import Foundation
import NIOCore
import NIOHTTP1

final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Largest request body: 2048 texts of up to 64 KiB would be 128 MiB; 32 MiB covers real batches.
    static let maxBody = 32 << 20
    let server: ServerContext
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    var bodyView: ByteBufferView { self.body.readableBytesView }
    private var tooLarge = false
    /// Set when a request's bearer token was judged after a throttle delay and accepted (HTTPHandler+Auth).
    var admitted = false
    /// The request being computed and its timeout (HTTPHandler+Timeout).
    var inFlight: (id: Int, timer: Scheduled<Void>)?
    var requestIDs = 0
    /// Metric handles for hits answered on the event loop, looked up once per connection.
    lazy var hitMetrics = (l1: self.server.metrics.tierCounter(.l1), hot: self.server.metrics.tierCounter(.hot),
                           l1Latency: self.server.metrics.latency(.l1))
    /// Hits answered on the event loop; their latency is recorded one in 16, as RESP's are.
    var hitsServed = 0

    init(server: ServerContext) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
            self.tooLarge = false
        case .body(var chunk):
            if self.body.readableBytes + chunk.readableBytes > Self.maxBody { self.tooLarge = true } else { self.body.writeBuffer(&chunk) }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.route(head, context: context)
        }
    }

    func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.firstIndex(of: "?").map { String(head.uri[..<$0]) } ?? head.uri
        guard self.admit(head, path: path, context: context) else { return }  // HTTPHandler+Auth
        if self.routeSavings(head, path: path, context: context) { return }
        if self.routeModels(head, path: path, context: context) { return }  // HTTPHandler+Models
        switch (head.method, path) {
        case (.GET, "/healthz"):
            self.respond(context, head, .ok, json: #"{"status":"ok"}"#)
        case (.GET, "/readyz"):
            // Not ready before the node has a view of its peers (ClusterRouter.hasPeerView): a node
            // that routed before its first health round would send every key to itself for a while.
            if self.server.cluster?.hasPeerView == false {
                return self.respond(context, head, .serviceUnavailable, json: #"{"status":"waiting for a view of the peers"}"#)
            }
            self.respond(context, head, .ok, json: #"{"status":"ready","model":"all-MiniLM-L6-v2"}"#)
        case (.GET, "/metrics"):
            self.respond(context, head, .ok, body: self.server.metrics.export(self.server), contentType: "text/plain; version=0.0.4")
        case (.POST, "/v1/embeddings"):
            if self.tooLarge {
                return self.error(context, head, .payloadTooLarge, "request body over \(Self.maxBody) bytes", type: "invalid_request_error")
            }
            self.embeddings(head, context: context)
        case (_, "/v1/embeddings"), (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
            self.error(context, head, .methodNotAllowed, "method \(head.method) not allowed on \(path)", type: "invalid_request_error")
        default:
            self.error(context, head, .notFound, "no route \(path)", type: "invalid_request_error")
        }
    }

    func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, json: String) {
        self.respond(context, request, status, body: json, contentType: "application/json")
    }

    func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, body: String, contentType: String) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        self.respond(context, request, status, buffer: buffer, contentType: contentType)
    }

    func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, buffer: ByteBuffer, contentType: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(buffer.readableBytes)")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func error(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ message: String,
               type: String, param: String? = nil, code: String? = nil) {
        let object: [String: Any] = ["error": ["message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(), "code": code.map { $0 as Any } ?? NSNull()] as [String: Any]]
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        self.respond(context, request, status, json: String(decoding: data, as: UTF8.self))
    }
}
