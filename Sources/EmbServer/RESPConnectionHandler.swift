// One RESP connection: decodes frames (EmbRESP), runs commands, and writes replies in request order.
//
// Hits are answered on the event loop, straight from L1 into the connection's output buffer; a miss
// runs as a Task and its reply is slotted back in order: replies carry sequence numbers and are
// written only when every earlier one has been. Output is flushed once per read burst (so a
// pipelined -P 16 costs one write). Errors are per connection: a bad client gets an error reply or,
// when the stream can no longer be framed, is closed; nothing it sends reaches another connection.
import EmbHash
import EmbNode
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

final class RESPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    /// A known text whose owner (this node) missed it in L1: looked up in Redis at the burst's end.
    typealias DeferredText = (sequence: Int, text: [UInt8], known: KnownText)
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ServerContext
    let id: Int
    /// The model (and input-type prefix) this connection's texts go to: the default until
    /// `CLIENT SETMODEL name` or `SELECT n` (RESPConnectionHandler+Models).
    var selection: ModelSelection {
        didSet { self.node = self.selection.lane.node }
    }
    /// The selected model's lane: its cache, alias table and encoder (kept beside `selection`: the
    /// hit path reads it for every request).
    private(set) var node: EmbeddingNode
    var version = RESPVersion.resp2
    var authenticated: Bool
    var clientName: String?
    var caller = "anonymous"
    /// Sequence numbers: the next request's, and the next reply to write.
    var nextSequence = 0
    var writeSequence = 0
    private var waiting: [Int: ByteBuffer] = [:]
    var output = ByteBuffer()
    private var closeAfterSequence: Int?
    /// Metric handles of the hit path, resolved once per connection (a lookup per hit would contend).
    lazy var embedRequests = self.server.metrics.requestCounter("resp", "embed")
    lazy var callerRequests = self.server.metrics.callerCounter(self.caller)
    lazy var l1Results = self.server.metrics.tierCounter(.l1)
    lazy var l1Latency = self.server.metrics.latency(.l1)
    lazy var forwardedResults = self.server.metrics.tierCounter(.forwarded)
    lazy var hotResults = self.server.metrics.tierCounter(.hot)
    /// L1 hits are timed one in `l1LatencySampling`: two clock reads per hit cost more than the hit.
    static let l1LatencySampling = 16
    var l1Hits = 0
    /// The hit path's bookkeeping (RESPConnectionHandler+HitPath): EMBED requests and hits of this
    /// read burst, with the hits' tokens and other requests (MEMBED, EMBED.WARM) for the savings
    /// ledger, added to the shared counters once at its end; the clock reading of the burst.
    var burstCounts = BurstCounts()
    /// The caller's account in the savings ledger (the peers' pseudo-caller on a peer's link).
    lazy var account = self.node.savings.account(self.accountName)
    var isPeerLink = false
    /// Whether PEER.* commands are served here: false on a mutual-TLS port until the handshake shows
    /// a client certificate of the cluster's CA (RESPConnectionHandler+TLS).
    var mayActAsPeer: Bool
    /// The audit log if the cluster file turned it on (it is set at start and never changes).
    lazy var audit = self.node.savings.audit
    /// Keys first seen on this connection in this burst that the overlap sample wants (few: a memo
    /// hit never adds one).
    var burstNotes: [CacheKey] = []
    var burstNow: Double?
    var burstMinuteReading: UInt32?
    var burstL2Up: Bool?
    let knownKeys = KnownKeyMemo()
    /// EMBEDs of this burst with known keys this node owns that missed L1: one MGET on the loop.
    var deferredKnown: [DeferredText] = []
    /// This loop's pipelined link to the node's Redis, resolved once (`redisLink(_:)`).
    private var cachedRedisLink: PeerLink?
    /// This loop's links to the masters of the node's Redis Cluster, resolved once each (cluster mode).
    var clusterLinks: [RedisNodeAddress: PeerLink] = [:]
    /// The L2 key prefix as bytes, made once (`l2KeyPrefix(_:)`).
    private var cachedKeyPrefix: [UInt8]?
    /// EMBEDs of this read burst that need the full path: looked up together, as one MEMBED would be.
    var deferredEmbeds: [(sequence: Int, text: [UInt8])] = []
    /// Peer forwards started on the loop in this read burst. Past a few, the rest of a pipelined
    /// burst goes to the async path, which merges them into one PEER.MEMBED per owner.
    var burstLoopLookups = 0
    static let maxLoopLookupsPerBurst = 2

    /// Reading is paused while an AUTH attempt waits out its throttle delay, and while the client is
    /// not reading its replies (the channel is unwritable): RESPConnectionHandler+Flow.
    var authPaused = false
    var outputPaused = false
    /// Async replies not yet written, by sequence: a request timeout answers them (+Flow).
    var pendingAsync = Set<Int>()

    /// Bytes received and not yet framed (a request cut across reads).
    private var inbound: ByteBuffer?
    private var parser: RESPParser

    /// Idle timeout, kept here rather than by NIO's IdleStateHandler, which is one more pipeline hop
    /// on every read and every write (3% of the node's CPU at -P 1). A tick every quarter of the
    /// timeout closes a connection that has read nothing since `idleTimeout` ago.
    private let idleTimeout: TimeAmount
    private var readSinceTick = false
    private var lastRead = NIODeadline.now()
    private var idleTicks: RepeatedTask?

    init(server: ServerContext, limits: RESPLimits, idleTimeout: TimeAmount) {
        self.server = server
        self.selection = server.models.select(server.models.defaultLane.name)!
        self.node = server.models.defaultLane.node
        self.parser = RESPParser(limits: limits)
        self.id = server.connectionID()
        self.authenticated = server.secret == nil
        self.mayActAsPeer = server.tls?.requiresPeerCertificate != true
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let tick = TimeAmount.nanoseconds(max(1, self.idleTimeout.nanoseconds / 4))
        self.idleTicks = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = bound.value
            let now = NIODeadline.now()
            if handler.readSinceTick {
                handler.readSinceTick = false
                handler.lastRead = now
            } else if now - handler.lastRead >= handler.idleTimeout {
                handler.idleTicks?.cancel()
                context.close(promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTicks?.cancel()
        self.idleTicks = nil
    }

    /// Frames requests straight from the read buffer (RESPParser, no per-request pipeline hop:
    /// ByteToMessageHandler's generic plumbing cost more than the parse at a million requests a second).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.burstLoopLookups = 0
        self.readSinceTick = true
        var buffer = self.unwrapInboundIn(data)
        if var pending = self.inbound {
            pending.writeBuffer(&buffer)
            buffer = pending
            self.inbound = nil
        }
        guard !self.authPaused else {
            // Read before the pause took hold: kept, run when the AUTH is judged.
            self.inbound = buffer
            return
        }
        defer { self.commitBurst() }
        do {
            while true {
                if self.parser.isIdle { self.serveLeadingHits(&buffer, context: context) }
                guard let frame = try self.parser.next(&buffer) else { break }
                let sequence = self.nextSequence
                self.nextSequence += 1
                switch frame {
                case .rejected(let error):
                    var reply = ByteBuffer()
                    reply.writeError(error)
                    self.complete(sequence, reply)
                case .command(let command):
                    self.run(command, sequence: sequence, context: context)
                }
                if self.closeAfterSequence != nil || self.authPaused { break }
            }
        } catch {
            // The stream can no longer be framed: answer in order, then close (as Redis does).
            var reply = ByteBuffer()
            reply.writeError(error)
            let sequence = self.nextSequence
            self.nextSequence += 1
            self.closeAfterReply(sequence)
            self.complete(sequence, reply)
            self.flush(context: context)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            guard buffer.readableBytes <= self.server.limits.maxRequestBytes else { return self.refuseHugeRequest(context) }
            self.inbound = buffer
        }
        self.fetchDeferredFromL2(context: context)
        self.runDeferredEmbeds(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Writes `reply` now if every earlier reply is out, else parks it.
    func complete(_ sequence: Int, _ reply: ByteBuffer) {
        var reply = reply
        self.complete(sequence) { $0.writeBuffer(&reply) }
    }

    /// Writes reply `sequence` with `write`: straight into the output if every earlier reply is out
    /// (no buffer of its own), else into a buffer that waits its turn.
    func complete(_ sequence: Int, write: (inout ByteBuffer) -> Void) {
        guard sequence == self.writeSequence else {
            var reply = ByteBuffer()
            write(&reply)
            self.waiting[sequence] = reply
            return
        }
        write(&self.output)
        self.writeSequence += 1
        while let next = self.waiting.removeValue(forKey: self.writeSequence) {
            var next = next
            self.output.writeBuffer(&next)
            self.writeSequence += 1
        }
    }

    /// Whether a reply for `sequence` may be written straight into the output (nothing ahead of it).
    func canWriteDirectly(_ sequence: Int) -> Bool { sequence == self.writeSequence }

    func flush(context: ChannelHandlerContext) {
        guard self.output.readableBytes > 0 else { return }
        let chunk = self.output
        // Sized like the last burst: a pipelined burst of 16 vectors is ~25 KB, and growing from 4 KB
        // would copy it three times over. After a small reply, nothing is kept: the first write
        // allocates what it needs (one allocation either way), and an idle connection holds no buffer
        // (4 KiB each was 40 MiB at 10k idle connections, Scripts/bench-memory).
        self.output = chunk.readableBytes > 4096 ? context.channel.allocator.buffer(capacity: chunk.readableBytes) : ByteBuffer()
        if let last = self.closeAfterSequence, self.writeSequence > last {
            context.writeAndFlush(self.wrapOutboundOut(chunk)).whenComplete { _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(self.wrapOutboundOut(chunk), promise: nil)
            if !context.channel.isWritable { self.checkOutput(context) }
        }
    }

    private var flushScheduled = false

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

    func closeAfterReply(_ sequence: Int) { self.closeAfterSequence = sequence }

    /// The bytes every L2 key starts with (`emb:` by default).
    func l2KeyPrefix(_ l2: RedisL2) -> [UInt8] {
        if let prefix = self.cachedKeyPrefix { return prefix }
        let prefix = Array(l2.configuration.keyPrefix.utf8)
        self.cachedKeyPrefix = prefix
        return prefix
    }

    /// This loop's pipelined link to the node's Redis; nil without L2.
    func redisLink(_ context: ChannelHandlerContext) -> PeerLink? {
        if let link = self.cachedRedisLink { return link }
        self.cachedRedisLink = self.server.redisLink(on: context.eventLoop)
        return self.cachedRedisLink
    }

    /// QUIT or a framing error: no more requests are answered.
    var isClosing: Bool { self.closeAfterSequence != nil }

    /// The limits the request parser enforces (the fast path must not accept more).
    var parserLimits: RESPLimits { self.parser.limits }

    /// Runs `work` off the event loop and slots its replies (one per sequence number) in order.
    func runAsync(_ sequences: [Int], context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> [ByteBuffer]) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let timeout = self.startTimeout(sequences, context: context)
        Task {
            let replies = await work()
            loop.execute {
                let (handler, context) = bound.value
                timeout.cancel()
                for (sequence, reply) in zip(sequences, replies) where handler.pendingAsync.remove(sequence) != nil {
                    handler.complete(sequence, reply)
                }
                handler.flush(context: context)
            }
        }
    }

    /// Runs `work` off the event loop and slots its reply in order when it is done.
    func runAsync(_ sequence: Int, context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> ByteBuffer) {
        self.runAsync([sequence], context: context) { [await work()] }
    }
}

/// A read burst's counts on the hit path (a struct, so a hit updates it in one access).
struct BurstCounts {
    var requests = 0
    var l1 = 0
    var hot = 0
    var l1Tokens = 0
    var hotTokens = 0
    /// MEMBED and EMBED.WARM requests (charged to the caller; EMBEDs are `requests`).
    var batches = 0

    /// One text answered on the loop from L1 or the hot cache.
    @inline(__always)
    mutating func hit(hot: Bool, tokens: Int) {
        if hot {
            self.hot += 1
            self.hotTokens += tokens
        } else {
            self.l1 += 1
            self.l1Tokens += tokens
        }
    }

    /// A whole reply's hits (MEMBED, PEER.MEMBED).
    mutating func add(l1: Int, l1Tokens: Int, hot: Int, hotTokens: Int) {
        self.l1 += l1
        self.l1Tokens += l1Tokens
        self.hot += hot
        self.hotTokens += hotTokens
    }

    var isEmpty: Bool { self.requests + self.l1 + self.hot + self.batches == 0 }
}
