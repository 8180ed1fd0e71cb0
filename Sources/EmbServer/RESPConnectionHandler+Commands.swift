// The commands of the RESP interface (Docs/protocol.md lists them with their replies).
import EmbHash
import EmbModel
import EmbNode
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    func run(_ command: RESPCommand, sequence: Int, context: ChannelHandlerContext) {
        // EMBED/MEMBED with DIMENSIONS (before the prefix, which must not touch the option's words).
        if command.arguments.count >= 4, let option = DimensionsOption.parse(command.arguments) {
            return self.runCut(option, sequence: sequence, context: context)  // RESPConnectionHandler+Dimensions
        }
        let command = self.applyingPrefix(command)
        let args = command.arguments
        guard let first = args.first else { return self.complete(sequence, Self.error("ERR empty command")) }
        // EMBED first, without making a String: it is most of the traffic.
        if command.hasName("EMBED") && self.authenticated {
            self.burstCounts.requests += 1
            if args.count == 4 && String(buffer: args[2]).uppercased() == "MODEL" { return self.embedIn(args, sequence: sequence, context: context) }
            guard args.count == 2 else { return self.complete(sequence, Self.arity("EMBED")) }
            return self.embed(args[1], sequence: sequence, context: context)
        }
        if command.hasName("PEER.MEMBED") && self.authenticated && args.count >= 2 && self.markPeerLink()
            && self.serveAllFromL1(args.dropFirst(), owned: true, sequence: sequence)
        {
            return  // a forwarded hit: answered on the event loop
        }
        let name = String(buffer: first).uppercased()
        if !self.authenticated && !["AUTH", "HELLO", "QUIT"].contains(name) {
            return self.complete(sequence, Self.error("NOAUTH Authentication required."))
        }
        if !self.mayActAsPeer && name.hasPrefix("PEER.") { return self.complete(sequence, Self.peerCertificateRequired) }
        self.server.metrics.request("resp", Self.metricName(name), caller: self.caller)
        switch name {
        case "MEMBED":
            guard args.count >= 2 else { return self.complete(sequence, Self.arity(name)) }
            self.burstCounts.batches += 1
            if self.serveAllFromL1(args.dropFirst(), owned: false, sequence: sequence) { return }
            self.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .vectors, sequence: sequence, context: context)
        case "PING":
            var reply = ByteBuffer()
            if args.count > 1 { reply.writeBulkString(args[1]) } else { reply.writeSimpleString("PONG") }
            self.complete(sequence, reply)
        case "ECHO" where args.count == 2:
            var reply = ByteBuffer()
            reply.writeBulkString(args[1])
            self.complete(sequence, reply)
        case "HELLO": self.hello(Array(args.dropFirst()), sequence: sequence, context: context)
        case "AUTH": self.auth(Array(args.dropFirst()), sequence: sequence, context: context)
        case "CLIENT": self.complete(sequence, self.client(Array(args.dropFirst())))
        case "SELECT":
            self.complete(sequence, self.selectDatabase(args))
        case "PEER.MEMBED.IN", "PEER.LOCATE.IN", "PEER.INVALIDATE.IN":
            self.peerCommandIn(name, args, sequence: sequence, context: context)
        case "PEER.HELLO":  // RESPConnectionHandler+Peers
            self.peerHello(args, sequence: sequence)
        case "PEER.MEMBED.FP", "PEER.LOCATE.FP", "PEER.INVALIDATE.FP":
            self.peerCommandFP(name, args, sequence: sequence, context: context)
        case "QUIT":
            self.closeAfterReply(sequence)
            self.complete(sequence, Self.ok())
        case "INFO":
            let section = args.count > 1 ? String(buffer: args[1]).lowercased() : nil
            var reply = ByteBuffer()
            reply.writeBulkString(InfoReport.render(self.server, section: section))
            self.complete(sequence, reply)
        case "INVALIDATE":
            guard args.count >= 2 else { return self.complete(sequence, Self.arity(name)) }
            let texts = args.dropFirst().map { Array($0.readableBytesView) }
            let node = self.node
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeRESPInteger(try await node.invalidate(texts)) } catch { reply = Self.nodeError(error) }
                return reply
            }
        case "EMBED.LOCATE":
            guard args.count == 2 else { return self.complete(sequence, Self.arity(name)) }
            let text = Array(args[1].readableBytesView)
            let (node, id) = (self.node, self.server.nodeID)
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do {
                    let (key, owner, tier) = try await node.locate(text)
                    reply.writeArrayHeader(3)
                    reply.writeBulkString(key.hex)
                    reply.writeBulkString(owner ?? id)
                    reply.writeBulkString(tier)
                } catch { reply = Self.nodeError(error) }
                return reply
            }
        case "PEER.MEMBED":
            // Internal: a peer forwards texts this node owns. Served here, never forwarded again.
            guard args.count >= 2 else { return self.complete(sequence, Self.arity(name)) }
            self.markPeerLink()
            if self.serveAllFromL1(args.dropFirst(), owned: true, sequence: sequence) { return }
            self.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .peerVectors, forwarded: true, sequence: sequence, context: context)
        case "EMBED.WARM":
            // For `embcache warm`, which routes by the ring itself: served here as owner; replies with
            // the tier that answered each text (l1, l2, computed, coalesced) instead of the vectors.
            guard args.count >= 2 else { return self.complete(sequence, Self.arity(name)) }
            self.burstCounts.batches += 1
            self.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .tiers, forwarded: true, sequence: sequence, context: context)
        case "PEER.LOCATE":
            self.markPeerLink()
            guard args.count == 2 else { return self.complete(sequence, Self.arity(name)) }
            let text = Array(args[1].readableBytesView)
            let node = self.node
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeBulkString(try await node.locate(text, forwarded: true).tier) } catch { reply = Self.nodeError(error) }
                return reply
            }
        case "PEER.INVALIDATE":
            self.markPeerLink()
            guard args.count >= 2 else { return self.complete(sequence, Self.arity(name)) }
            let texts = args.dropFirst().map { Array($0.readableBytesView) }
            let node = self.node
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeRESPInteger(try await node.invalidate(texts, forwarded: true)) } catch { reply = Self.nodeError(error) }
                return reply
            }
        case "SAVINGS":
            // This node's savings snapshot as JSON (for `embcache report` and the dashboard).
            var reply = ByteBuffer()
            reply.writeBulkString(self.server.savingsSnapshot().json())
            self.complete(sequence, reply)
        case "CLUSTER":
            self.complete(sequence, self.clusterCommand(Array(args.dropFirst())))
        case "COMMAND":
            // redis-cli asks for command docs on start; an empty reply means "none to offer".
            var reply = ByteBuffer()
            reply.writeArrayHeader(0)
            self.complete(sequence, reply)
        default:
            let shown = args.dropFirst().prefix(3).map { "'\(String(buffer: $0).prefix(40))'" }.joined(separator: " ")
            self.complete(sequence, Self.error("ERR unknown command '\(String(name.prefix(40)))', with args beginning with: \(shown)"))
        }
    }

    /// EMBED off the fast path: a hit, an owned key for the burst's MGET, a forward on the loop, or
    /// the burst's async lookup (unknown texts, which must be tokenized).
    private func embed(_ text: ByteBuffer, sequence: Int, context: ChannelHandlerContext) {
        let served = text.withUnsafeReadableBytes { bytes in
            self.knownKey(bytes).map { self.serveKnownText($0, text: bytes, sequence: sequence, context: context) } ?? false
        }
        if !served { self.deferredEmbeds.append((sequence, Array(text.readableBytesView))) }
    }

    /// A known text owned by another node: ask the owner over this loop's pipelined link and answer
    /// when it replies, all on the event loop (no task, no thread hop). On any failure the peer is
    /// reported and the request takes the async path, which routes again or computes here.
    func forwardOnLoop(_ text: UnsafeRawBufferPointer, known: KnownText, sequence: Int, context: ChannelHandlerContext) -> Bool {
        let key = known.key
        let lane = self.selection.lane
        let fingerprint = lane.fingerprint
        guard let cluster = self.server.cluster,
            let owner = cluster.remoteOwner(of: key, fingerprint: fingerprint),
            let link = cluster.link(to: owner, on: context.eventLoop)
        else { return false }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        var command = ByteBuffer()
        command.reserveCapacity(96 + text.count)
        let name = ClusterRouter.command("MEMBED", version: cluster.version(of: owner), fingerprint: fingerprint, model: lane.index == 0 ? nil : lane.name)
        command.writeArrayHeader(name.count + 1)
        for part in name { command.writeBulkString(part) }
        command.writeBulkString(bytes: text)
        let copy = Array(text)  // for the fallback, after `text` is gone
        let sent = DispatchTime.now().uptimeNanoseconds
        link.send(encoded: command, timeout: ClusterRouter.forwardTimeout(texts: 1)).whenComplete { result in
            let (handler, context) = bound.value
            if case .success(.array(let items?)) = result, items.count == 1 || items.count == 2, case .bulkString(let vector?) = items[0],
                vector.readableBytes == lane.node.vectorBytes
            {
                vector.withUnsafeReadableBytes { lane.node.keepForwarded(key, $0) }
                handler.forwardedResults.increment()
                var codes: [UInt8]? = nil
                if items.count == 2, case .bulkString(let c?) = items[1] { codes = Array(c.readableBytesView) }
                let computed = PeerTiers.computed(codes, 0)
                handler.charge(.forwarded, texts: 1, tokens: known.tokens, ownerComputed: computed ? (1, known.tokens) : (0, 0))
                handler.audit(known, tier: .forwarded, since: sent)
                handler.complete(sequence) { $0.writeBulkString(vector) }
                handler.scheduleFlush(context: context)
            } else {
                // PEERMODEL: the owner serves another checkpoint (learned: the lookup serves it here);
                // anything else (a timeout, a reset, a bad reply) marks the owner down.
                if case .success(.error(let line)) = result, PeerHandshake.isModelMismatch(line) {
                    cluster.learnedMismatch(owner, fingerprint: fingerprint)
                } else {
                    cluster.reportFailure(owner)
                }
                handler.runLookup([copy], reply: .vector, sequence: sequence, context: context, node: lane.node)
            }
        }
        return true
    }

    /// One async lookup for the burst's EMBEDs that need more than L1 or L2 (a pipeline of 16 costs
    /// one task). If the batch fails as a whole (one text is invalid), each text is retried alone so
    /// every request gets its own answer.
    func runDeferredEmbeds(context: ChannelHandlerContext) {
        guard !self.deferredEmbeds.isEmpty else { return }
        let batch = self.deferredEmbeds
        self.deferredEmbeds.removeAll(keepingCapacity: true)
        self.lookUpAsync(batch, context: context)
    }

    /// The replies of a deferred EMBED batch, one per text.
    static func lookupEach(node: EmbeddingNode, metrics: NodeMetrics, texts: [[UInt8]], l2Missed: Bool = false,
                           account: CallerAccount? = nil) async -> [ByteBuffer] {
        let start = DispatchTime.now().uptimeNanoseconds
        var replies: [ByteBuffer] = []
        do {
            let results = try await node.embed(texts, l2Missed: l2Missed, account: account)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            for r in results {
                var reply = ByteBuffer()
                r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                replies.append(reply)
                metrics.answered(r.tier, count: 1, seconds: seconds)
            }
        } catch {
            replies = []
            for text in texts {
                var reply = ByteBuffer()
                do {
                    let r = try await node.embed([text], l2Missed: l2Missed, account: account)[0]
                    r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                } catch {
                    reply = Self.nodeError(error)
                }
                replies.append(reply)
            }
        }
        return replies
    }

    /// `serveAllHits` for a request's texts: a MEMBED, or a peer's PEER.MEMBED when `owned`.
    func serveAllFromL1(_ texts: ArraySlice<ByteBuffer>, owned: Bool, sequence: Int) -> Bool {
        self.serveAllHits(count: texts.count, sequence: sequence, ownerTiers: owned) { i, now in
            texts[texts.startIndex + i].withUnsafeReadableBytes { self.writeHit($0, now: now, owned: owned) }
        }
    }

    /// What a lookup answers with: the vectors (an array, or one bulk string for EMBED), the vectors
    /// and the owner's tier codes (a peer's PEER.MEMBED, see PeerTiers), or the tiers.
    enum LookupReply: Sendable { case vector, vectors, peerVectors, tiers }

    /// The full lookup path for `texts` off the event loop, with metrics, reply slotted in order.
    /// `node`: the lane, when not the connection's (EMBED ... MODEL, PEER.*.IN), and `account` its account.
    func runLookup(_ texts: [[UInt8]], reply kind: LookupReply, forwarded: Bool = false, sequence: Int, context: ChannelHandlerContext,
                   node: EmbeddingNode? = nil, account: CallerAccount? = nil, width: OutputWidth? = nil) {
        let (node, metrics, account) = (node ?? self.node, self.server.metrics, account ?? self.account)
        self.runAsync(sequence, context: context) {
            let start = DispatchTime.now().uptimeNanoseconds
            var reply = ByteBuffer()
            do {
                let results = try await node.embed(texts, forwarded: forwarded, account: account)
                if kind != .vector { reply.writeArrayHeader(kind == .peerVectors ? results.count + 1 : results.count) }
                for r in results {
                    if kind == .tiers {
                        reply.writeBulkString(r.tier.rawValue)
                    } else if let width {
                        r.vector.withUnsafeBytes(width.cut).withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                    } else {
                        r.vector.withUnsafeBytes { reply.writeBulkString(bytes: $0) }
                    }
                }
                if kind == .peerVectors { results.map { PeerTiers.code($0.tier) }.withUnsafeBytes { reply.writeBulkString(bytes: $0) } }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                for tier in Tier.allCases {
                    let n = results.filter { $0.tier == tier }.count
                    if n > 0 { metrics.answered(tier, count: n, seconds: seconds) }
                }
            } catch {
                reply = Self.nodeError(error)
            }
            return reply
        }
    }

    /// CLUSTER NODES | RING | RELOAD.
    func clusterCommand(_ args: [ByteBuffer]) -> ByteBuffer {
        let sub = args.first.map { String(buffer: $0).uppercased() } ?? ""
        var reply = ByteBuffer()
        switch sub {
        case "NODES":
            let nodes = self.server.cluster?.nodes ?? [(self.server.nodeID, "-", "-", true, 0)]
            reply.writeBulkString(nodes.map { "\($0.id) \($0.resp) \($0.http) \($0.up ? "up" : "down") \($0.vnodes)" }.joined(separator: "\n") + "\n")
        case "RING":
            let points = self.server.cluster?.points ?? []
            reply.writeArrayHeader(points.count)
            for p in points {
                reply.writeArrayHeader(2)
                reply.writeBulkString(p.node)
                reply.writeRESPInteger(Int(bitPattern: UInt(p.hash)))
            }
        case "RELOAD":
            guard let reload = self.server.reload else { return Self.error("ERR this node was not started from a cluster file") }
            switch reload() {
            case .success: return Self.ok()
            case .failure(let error): return Self.error("ERR cluster file refused, the old one is kept: \(error)")
            }
        default:
            return Self.error("ERR unknown subcommand '\(sub.prefix(40))'. Try CLUSTER NODES, CLUSTER RING or CLUSTER RELOAD.")
        }
        return reply
    }

    static func ok() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeSimpleString("OK")
        return b
    }

    static func error(_ line: String) -> ByteBuffer {
        let space = line.firstIndex(of: " ") ?? line.endIndex
        var b = ByteBuffer()
        b.writeError(code: String(line[..<space]), message: String(line[space...].dropFirst()))
        return b
    }

    static func arity(_ name: String) -> ByteBuffer { Self.error("ERR wrong number of arguments for '\(name.lowercased())' command") }

    static func nodeError(_ error: any Error) -> ByteBuffer {
        Self.error((error as? NodeError)?.redisError ?? "ERR internal error")
    }

    /// Known command names keep their own label; anything else is "unknown" (bounded label set).
    static func metricName(_ name: String) -> String {
        ["EMBED", "MEMBED", "EMBED.LOCATE", "INVALIDATE", "PING", "HELLO", "AUTH", "CLIENT", "INFO", "QUIT", "SELECT", "COMMAND", "ECHO",
         "PEER.MEMBED", "PEER.LOCATE", "PEER.INVALIDATE", "CLUSTER", "EMBED.WARM", "SAVINGS", "PEER.HELLO", "PEER.MEMBED.FP"]
            .contains(name) ? name.lowercased() : "unknown"
    }
}
