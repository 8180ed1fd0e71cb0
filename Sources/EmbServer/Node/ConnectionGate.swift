// Bounds on what clients can make a node hold: how many connections (as Redis's `maxclients`), how
// much unsent output per connection, how long a request may take. A connection over the limit is
// accepted only to be told why and closed — Redis's "-ERR max number of clients reached" on RESP,
// an OpenAI-shaped 503 on HTTP — so the client sees a reason rather than a hang.
import NIOCore
import Synchronization

/// Limits that keep a node bounded under floods.
public struct ConnectionLimits: Sendable {
    /// Open client connections (RESP and HTTP together) at most; more are refused and closed.
    public var maxClients = 10_000
    /// Reply bytes a RESP connection may have waiting for its client to read; past this it is dropped
    /// (a client that pipelines and never reads must not make the node buffer forever). Larger than
    /// the biggest single reply (MEMBED of 2048 vectors, 3 MiB).
    public var maxOutputBytes = 64 << 20
    /// Bytes one RESP request may span while it is being received (as HTTP's 32 MiB body limit);
    /// past it the connection gets a protocol error and is closed.
    public var maxRequestBytes = 32 << 20
    /// Seconds a request may take (queued, computed, forwarded) before it is answered -BUSY / 503.
    public var requestTimeout = 30.0
    public init() {}
}

/// The count of open client connections (RESP and HTTP together) against `maxClients`.
final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)
    private let maxClients: Int
    private let metrics: NodeMetrics

    init(maxClients: Int, metrics: NodeMetrics) {
        self.maxClients = maxClients
        self.metrics = metrics
    }

    /// Counts a new connection; false when it is one too many (it gets a `GateRefusal` and is closed).
    /// Every admitted connection is uncounted when it closes.
    func admit(_ channel: any Channel) -> Bool {
        let open = self.open.add(1, ordering: .relaxed).newValue
        guard open <= self.maxClients else {
            self.open.subtract(1, ordering: .relaxed)
            self.rejected.add(1, ordering: .relaxed)
            self.metrics.connectionDropped("max_clients")
            return false
        }
        let gauge = self.metrics.connectedClients
        gauge.increment()
        channel.closeFuture.whenComplete { _ in
            self.open.subtract(1, ordering: .relaxed)
            gauge.decrement()
        }
        return true
    }

    /// Open client connections now.
    var connected: Int { self.open.load(ordering: .relaxed) }
    /// Connections refused at `maxClients` since start.
    var refused: Int { self.rejected.load(ordering: .relaxed) }
}

/// Says why a connection over `maxClients` is refused, then closes it. Reads nothing.
final class GateRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let message: String

    static let resp = "-ERR max number of clients reached\r\n"
    static let http: String = {
        let body = #"{"error":{"message":"max number of clients reached, retry later","type":"server_error","param":null,"code":"max_clients"}}"#
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Retry-After: 1\r\nConnection: close\r\n\r\n" + body
    }()

    init(message: String) { self.message = message }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: self.message.utf8.count)
        buffer.writeString(self.message)
        context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
