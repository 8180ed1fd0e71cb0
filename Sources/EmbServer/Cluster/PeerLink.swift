// A pipelined RESP connection to one peer (or Redis) on one event loop: the request is written on the
// connection's own loop, the reply is parsed there (EmbRESP.RESPReplyParser) and completes a promise
// on that loop, so a forwarded hit costs no task, no thread hop and no lock. It is the node's only
// kind of peer connection: forwards (on the loop and from tasks), locates, invalidations, SAVINGS and
// the health check all go through PeerLinks, and a new connection runs the peer handshake
// (PEER.HELLO, ClusterRouter+Links) once. Replies arrive in request order, so a FIFO of promises
// matches them. Each request has a deadline (a forward's timeout): past it its caller gets
// PeerError.timedOut and its reply, when it comes, is dropped. Any error fails every pending request
// and drops the connection; the next request connects again.
import EmbRESP
import EmbRedis
import EmbTLS
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

final class PeerLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    /// One request in flight: its promise, how many replies it takes (one, or several sent together:
    /// the cluster hit path's pipeline to one master, one promise for all), and its deadline. Every
    /// transition happens on the link's loop, and `completed` makes the promise complete exactly once
    /// whichever comes first: the reply, the deadline, or the link closing.
    private struct Pending {
        let promise: EventLoopPromise<RESPValue>
        let replies: Int
        let sentAt: NIODeadline
        /// When the caller stops waiting (a forward's timeout): its promise fails then, and the reply,
        /// when it comes, is read and dropped (replies come in order: its slot must stay).
        let deadline: NIODeadline
        var collected: [RESPValue] = []
        var completed = false
    }
    private var pending = CircularBuffer<Pending>()
    /// A stalled peer or Redis (SIGSTOP, a dead host, a half-open link) must not hold the replies of the
    /// connections waiting on it for ever: a watchdog closes the link when the oldest request is older
    /// than `timeout`; closing fails every pending request and the callers fall back.
    private let timeout: TimeAmount
    private var watchdog: RepeatedTask?
    private var buffer: ByteBuffer?
    private let parser = RESPReplyParser(maxBulkLength: 64 << 20)

    init(timeout: TimeAmount) { self.timeout = timeout }

    func enqueue(_ promise: EventLoopPromise<RESPValue>, replies: Int = 1, timeout: TimeAmount? = nil) {
        let now = NIODeadline.now()
        self.pending.append(Pending(promise: promise, replies: replies, sentAt: now, deadline: now + (timeout ?? self.timeout)))
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let tick = TimeAmount.nanoseconds(min(50_000_000, max(1_000_000, self.timeout.nanoseconds / 4)))
        self.watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = bound.value
            handler.expire(now: .now(), context: context)
        }
        context.fireChannelActive()
    }

    /// Fails the requests whose callers stopped waiting; closes the link when the oldest is older than
    /// the link's own timeout.
    private func expire(now: NIODeadline, context: ChannelHandlerContext) {
        guard let oldest = self.pending.first else { return }
        if now - oldest.sentAt > self.timeout { return context.close(promise: nil) }
        for i in self.pending.indices where !self.pending[i].completed && now > self.pending[i].deadline {
            self.pending[i].completed = true
            self.pending[i].promise.fail(PeerError.timedOut)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if var b = self.buffer {
            b.writeBuffer(&incoming)
            incoming = b
            self.buffer = nil
        }
        do {
            while let value = try self.parser.parse(&incoming) {
                guard var first = self.pending.first else { return context.close(promise: nil) }
                if first.replies > 1 {
                    first.collected.append(value)
                    if first.collected.count < first.replies {
                        self.pending[self.pending.startIndex] = first
                        continue
                    }
                }
                _ = self.pending.popFirst()
                if !first.completed { first.promise.succeed(first.replies > 1 ? .array(first.collected) : value) }
            }
        } catch {
            return context.close(promise: nil)
        }
        if incoming.readableBytes > 0 {
            incoming.discardReadBytes()  // else the kept buffer grows by every reply ever read
            self.buffer = incoming
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.watchdog?.cancel()
        self.watchdog = nil
        while let p = self.pending.popFirst() {
            if !p.completed { p.promise.fail(PeerError.unavailable("link closed")) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The link to one peer from one event loop. Used only on that loop (tasks reach it with
/// `eventLoop.flatSubmit`), hence unchecked: its state is never touched off the loop.
public final class PeerLink: @unchecked Sendable {
    let host: String
    let port: Int
    /// AUTH on connect: the cluster secret to a peer, or the Redis login; nil = none.
    let credentials: RedisCredentials?
    public let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var handler: PeerLinkHandler?
    private var connecting: EventLoopFuture<Void>?
    /// Writes of one event-loop tick go out in one flush (one syscall for all the forwards of a tick).
    private var flushScheduled = false

    /// Redis database to SELECT on connect (0: none); peers have none.
    let database: Int
    /// How long a reply may take before the link is dropped (PeerLinkHandler's watchdog).
    let timeout: TimeAmount

    /// A peer link's handshake (PEER.HELLO, ClusterRouter), run after AUTH on every new connection
    /// with a way to send on it; a failed handshake closes the connection. Nil for Redis.
    public typealias Handshake = (_ send: @escaping @Sendable ([ByteBuffer]) -> EventLoopFuture<RESPValue>) -> EventLoopFuture<Void>
    let handshake: Handshake?
    /// The node's TLS (peer links of a TLS cluster: mutual TLS with the cluster's CA); nil for Redis
    /// and for plaintext clusters. Read at each connect, so a reload's certificates reach new links.
    let tls: NodeTLS?

    public init(host: String, port: Int, credentials: RedisCredentials?, eventLoop: any EventLoop, database: Int = 0, timeout: TimeAmount,
         handshake: Handshake? = nil, tls: NodeTLS? = nil) {
        (self.host, self.port, self.credentials, self.eventLoop, self.database) = (host, port, credentials, eventLoop, database)
        (self.timeout, self.handshake, self.tls) = (timeout, handshake, tls)
    }

    /// Sends one command; the future completes on this link's loop. `timeout`: when the caller stops
    /// waiting (PeerError.timedOut), if sooner than the link's own.
    public func send(_ args: [ByteBuffer], timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        var command = ByteBuffer()
        command.reserveCapacity(64 + args.reduce(0) { $0 + $1.readableBytes })
        command.writeCommand(RESPCommand(arguments: args))
        return self.send(encoded: command, timeout: timeout)
    }

    /// Sends one command the caller has already encoded as a RESP array of bulk strings, or
    /// `replies` > 1 commands encoded back to back, answered together as an array of their replies.
    func send(encoded command: ByteBuffer, replies: Int = 1, timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        if let channel = self.channel, channel.isActive, let handler = self.handler {
            return self.write(command, channel, handler, replies: replies, timeout: timeout)
        }
        self.channel = nil
        let ready = self.connecting ?? self.connect()
        return ready.flatMap {
            guard let channel = self.channel, let handler = self.handler else {
                return self.eventLoop.makeFailedFuture(PeerError.unavailable("\(self.host):\(self.port)"))
            }
            return self.write(command, channel, handler, replies: replies, timeout: timeout)
        }
    }

    /// Closes the connection (pending requests fail); the next send connects again.
    public func close() {
        self.channel?.close(promise: nil)
        self.channel = nil
    }

    private func write(_ args: [ByteBuffer], _ channel: any Channel, _ handler: PeerLinkHandler) -> EventLoopFuture<RESPValue> {
        var command = channel.allocator.buffer(capacity: 64 + args.reduce(0) { $0 + $1.readableBytes })
        command.writeCommand(RESPCommand(arguments: args))
        return self.write(command, channel, handler)
    }

    private func write(_ command: ByteBuffer, _ channel: any Channel, _ handler: PeerLinkHandler, replies: Int = 1,
                       timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        handler.enqueue(promise, replies: replies, timeout: timeout)
        channel.write(command, promise: nil)
        if !self.flushScheduled {
            self.flushScheduled = true
            self.eventLoop.execute {
                self.flushScheduled = false
                channel.flush()
            }
        }
        return promise.futureResult
    }

    private func connect() -> EventLoopFuture<Void> {
        let handler = PeerLinkHandler(timeout: self.timeout)
        let future = ClientBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(300))
            .channelInitializer { [tls, host] channel in
                channel.eventLoop.makeCompletedFuture {
                    // TLS first (a no-op without it): everything after it, AUTH and PEER.HELLO included, is encrypted.
                    try channel.pipeline.syncOperations.addPeerTLS(tls, host: host)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: self.host, port: self.port)
            .flatMap { channel -> EventLoopFuture<Void> in
                self.channel = channel
                self.handler = handler
                // AUTH first: a Redis with `requirepass` refuses SELECT (and all else) until then.
                var setup: [[ByteBuffer]] = []
                if let credentials = self.credentials { setup.append(credentials.authCommand.map { ByteBuffer(bytes: $0) }) }
                if self.database != 0 { setup.append([ByteBuffer(string: "SELECT"), ByteBuffer(string: "\(self.database)")]) }
                let replies = setup.map { self.write($0, channel, handler) }
                let handshake = self.handshake
                return EventLoopFuture.whenAllSucceed(replies, on: self.eventLoop).flatMapThrowing { replies in
                    for reply in replies {
                        guard case .simpleString = reply else { throw PeerError.unavailable("connection setup (AUTH/SELECT) refused") }
                    }
                }.flatMap {
                    guard let handshake else { return self.eventLoop.makeSucceededVoidFuture() }
                    return handshake { self.write($0, channel, handler) }
                }.flatMapErrorThrowing { error in
                    // A refused setup or handshake: nothing may be sent on this connection.
                    channel.close(promise: nil)
                    if self.channel === channel { self.channel = nil }
                    throw error
                }
            }
        let done = future.always { _ in self.connecting = nil }
        self.connecting = done
        return done
    }
}

/// The PeerLinks of one kind of target (a peer id, or "redis"), one per event loop, made on first use.
/// A link is only ever used on its own loop; the registry itself is shared, hence the lock.
final class LinkRegistry: @unchecked Sendable {
    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let target: String
    }
    private let lock = NIOLock()
    private var links: [Key: PeerLink] = [:]  // guarded by lock

    /// Every link made to `target`, on any loop.
    func links(to target: String) -> [PeerLink] {
        self.lock.withLock { self.links.filter { $0.key.target == target }.map(\.value) }
    }

    /// The link to `target` for `loop`; `make` builds one when there is none or `isCurrent` rejects it.
    func link(_ target: String, on loop: any EventLoop, isCurrent: (PeerLink) -> Bool = { _ in true },
              make: () -> PeerLink) -> PeerLink {
        let key = Key(loop: ObjectIdentifier(loop), target: target)
        return self.lock.withLock {
            if let link = self.links[key], isCurrent(link) { return link }
            let link = make()
            self.links[key] = link
            return link
        }
    }
}
