// A pipelined RESP connection to one peer on one event loop, for forwarding hits without leaving
// the loop: the request is written on the connection's own loop, the reply is parsed there
// (EmbRESP.RESPReplyParser) and completes a promise on that loop, so a forwarded hit costs no task,
// no thread hop and no lock. One link per (event loop, peer); replies arrive in request order, so a
// FIFO of promises matches them. Any error fails every pending request and drops the link; callers
// fall back to the async path, which re-routes.
import EmbRESP
import EmbRedis
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

final class PeerLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    /// A promise and how many replies it takes: one (its value), or several sent together (an
    /// array of them, in order: the cluster hit path's pipeline to one master, one promise for all).
    private struct Pending {
        let promise: EventLoopPromise<RESPValue>
        let replies: Int
        var collected: [RESPValue] = []
    }
    private var pending = CircularBuffer<Pending>()
    /// When each pending request was sent, in the same order: a stalled peer or Redis (SIGSTOP, a
    /// dead host) must not hold the replies of the connections waiting on it for ever. A watchdog
    /// closes the link when the oldest request is older than `timeout`; closing fails every pending
    /// request and the callers fall back to the async path, which has its own timeouts.
    private var sentAt = CircularBuffer<NIODeadline>()
    private let timeout: TimeAmount
    private var watchdog: RepeatedTask?
    private var buffer: ByteBuffer?
    private let parser = RESPReplyParser(maxBulkLength: 64 << 20)

    init(timeout: TimeAmount) { self.timeout = timeout }

    func enqueue(_ promise: EventLoopPromise<RESPValue>, replies: Int = 1) {
        self.pending.append(Pending(promise: promise, replies: replies))
        self.sentAt.append(.now())
    }

    func channelActive(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let tick = TimeAmount.nanoseconds(max(1_000_000, self.timeout.nanoseconds / 4))
        self.watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = bound.value
            if let oldest = handler.sentAt.first, NIODeadline.now() - oldest > handler.timeout { context.close(promise: nil) }
        }
        context.fireChannelActive()
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
                guard first.replies > 1 else {
                    _ = self.pending.popFirst()
                    _ = self.sentAt.popFirst()
                    first.promise.succeed(value)
                    continue
                }
                first.collected.append(value)
                if first.collected.count < first.replies {
                    self.pending[self.pending.startIndex] = first
                    continue
                }
                _ = self.pending.popFirst()
                _ = self.sentAt.popFirst()
                first.promise.succeed(.array(first.collected))
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
        self.sentAt.removeAll()
        while let p = self.pending.popFirst() { p.promise.fail(PeerError.unavailable("link closed")) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The link to one peer from one event loop. Used only on that loop.
final class PeerLink {
    let host: String
    let port: Int
    /// AUTH on connect: the cluster secret to a peer, or the Redis login; nil = none.
    let credentials: RedisCredentials?
    let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var handler: PeerLinkHandler?
    private var connecting: EventLoopFuture<Void>?
    /// Writes of one event-loop tick go out in one flush (one syscall for all the forwards of a tick).
    private var flushScheduled = false

    /// Redis database to SELECT on connect (0: none); peers have none.
    let database: Int
    /// How long a reply may take before the link is dropped (PeerLinkHandler's watchdog).
    let timeout: TimeAmount

    init(host: String, port: Int, credentials: RedisCredentials?, eventLoop: any EventLoop, database: Int = 0, timeout: TimeAmount) {
        (self.host, self.port, self.credentials, self.eventLoop, self.database) = (host, port, credentials, eventLoop, database)
        self.timeout = timeout
    }

    /// Sends one command; the future completes on this link's loop.
    func send(_ args: [ByteBuffer]) -> EventLoopFuture<RESPValue> {
        var command = ByteBuffer()
        command.reserveCapacity(64 + args.reduce(0) { $0 + $1.readableBytes })
        command.writeCommand(RESPCommand(arguments: args))
        return self.send(encoded: command)
    }

    /// Sends one command the caller has already encoded as a RESP array of bulk strings, or
    /// `replies` > 1 commands encoded back to back, answered together as an array of their replies.
    func send(encoded command: ByteBuffer, replies: Int = 1) -> EventLoopFuture<RESPValue> {
        if let channel = self.channel, channel.isActive, let handler = self.handler {
            return self.write(command, channel, handler, replies: replies)
        }
        self.channel = nil
        let ready = self.connecting ?? self.connect()
        return ready.flatMap {
            guard let channel = self.channel, let handler = self.handler else {
                return self.eventLoop.makeFailedFuture(PeerError.unavailable("\(self.host):\(self.port)"))
            }
            return self.write(command, channel, handler, replies: replies)
        }
    }

    private func write(_ args: [ByteBuffer], _ channel: any Channel, _ handler: PeerLinkHandler) -> EventLoopFuture<RESPValue> {
        var command = channel.allocator.buffer(capacity: 64 + args.reduce(0) { $0 + $1.readableBytes })
        command.writeCommand(RESPCommand(arguments: args))
        return self.write(command, channel, handler)
    }

    private func write(_ command: ByteBuffer, _ channel: any Channel, _ handler: PeerLinkHandler, replies: Int = 1) -> EventLoopFuture<RESPValue> {
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        handler.enqueue(promise, replies: replies)
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
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
            .connect(host: self.host, port: self.port)
            .flatMap { channel -> EventLoopFuture<Void> in
                self.channel = channel
                self.handler = handler
                // AUTH first: a Redis with `requirepass` refuses SELECT (and all else) until then.
                var setup: [[ByteBuffer]] = []
                if let credentials = self.credentials { setup.append(credentials.authCommand.map { ByteBuffer(bytes: $0) }) }
                if self.database != 0 { setup.append([ByteBuffer(string: "SELECT"), ByteBuffer(string: "\(self.database)")]) }
                let replies = setup.map { self.write($0, channel, handler) }
                return EventLoopFuture.whenAllSucceed(replies, on: self.eventLoop).flatMapThrowing { replies in
                    for reply in replies {
                        guard case .simpleString = reply else { throw PeerError.unavailable("connection setup (AUTH/SELECT) refused") }
                    }
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
