// Where each RESP request goes (Docs/protocol.md lists the commands and their replies).
//
// First the fast run: a pipelined burst of `EMBED <text>` (and a peer's one-text PEER.MEMBED) is
// answered straight from the receive buffer: the frame is recognised in place (RESPFastFrame) and
// a known text is a hit (RESPHitPath), an owned key for the burst's one MGET (RESPL2Fetch), or a
// forward to its owner on this loop's peer link. The first request that is none of these (another
// command, an unknown text, a frame cut across reads) ends the fast run and goes, with everything
// after it, through RESPParser and `run`: session commands to RESPSession, PEER.* to
// RESPPeerCommands, CLUSTER to RESPNodeCommands, and lookups that need more than the loop to
// RESPLookup, off the event loop, their replies slotted back in order.
import EmbHash
import EmbNode
import EmbRESP
import Foundation
import NIOCore

extension RESPConnectionHandler {
    /// Answers the EMBEDs at the front of `buffer` that are hits or owned L2 lookups, consuming them.
    func serveLeadingHits(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        // A query/passage prefix must be put before each text first: such connections take the parser.
        guard self.session.authenticated, !self.replies.isClosing, self.session.selection.prefix.isEmpty else { return }
        let maxText = self.parser.limits.maxBulkLength
        let consumed = buffer.withUnsafeReadableBytes { all -> Int in
            var offset = 0
            while offset < all.count {
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                let sequence = self.replies.nextSequence
                if let frame = RESPFastFrame.twoArguments(rest, upperName: "EMBED", maxArgument: maxText) {
                    let text = UnsafeRawBufferPointer(rebasing: rest[frame.argument])
                    guard let known = self.hits.knownKey(text), self.serveKnownText(known, text: text, sequence: sequence, context: context)
                    else { break }
                    self.hits.burst.requests += 1
                    offset += frame.length
                } else if let frame = RESPFastFrame.twoArguments(rest, upperName: "PEER.MEMBED", maxArgument: maxText) {
                    guard self.markPeerLink() else { break }  // NOPEERCERT, answered by `run`
                    let text = UnsafeRawBufferPointer(rebasing: rest[frame.argument])
                    guard self.hits.serveAll(1, owned: true, sequence: sequence, replies: &self.replies, text: { _, hit in hit(text) }) else { break }
                    offset += frame.length
                } else {
                    break
                }
                _ = self.replies.reserve()
            }
            return offset
        }
        guard consumed > 0 else { return }
        buffer.moveReaderIndex(forwardBy: consumed)
    }

    /// A known text, on the event loop: a hit (written, or parked behind earlier replies), an owned
    /// key for the burst's MGET, or a forward to its owner. False: none of these; the caller defers
    /// it to the async path or ends the fast run.
    private func serveKnownText(_ known: KnownText, text: UnsafeRawBufferPointer, sequence: Int, context: ChannelHandlerContext) -> Bool {
        if self.hits.serveHit(known, text: text, sequence: sequence, replies: &self.replies) { return true }
        if self.hits.canFetchFromL2(known.key, fetch: self.l2, on: context.eventLoop) {
            self.hits.deferredKnown.append((sequence, Array(text), known))
            return true
        }
        guard self.hits.burstLoopLookups < RESPHitPath.maxLoopLookupsPerBurst,
            self.forwardOnLoop(text, known: known, sequence: sequence, context: context)
        else { return false }
        self.hits.burstLoopLookups += 1
        return true
    }

    /// The connection sent a PEER.* command: it is a peer's link. False when it may not be one
    /// (mutual TLS without the CA's certificate: `run` answers NOPEERCERT), so it can sit in a fast
    /// path's condition.
    @inline(__always)
    @discardableResult
    func markPeerLink() -> Bool {
        if self.session.isPeerLink { return true }
        guard let change = self.session.markPeerLink() else { return false }
        self.sessionChanged(change)
        return true
    }

    /// A framed request.
    func run(_ command: RESPCommand, sequence: Int, context: ChannelHandlerContext) {
        // EMBED/MEMBED with DIMENSIONS (before the prefix, which must not touch the option's words).
        if command.arguments.count >= 4, let option = DimensionsOption.parse(command.arguments) {
            return self.runCut(option, sequence: sequence, context: context)
        }
        let command = self.applyingPrefix(command)
        let args = command.arguments
        guard let first = args.first else { return self.replies.complete(sequence, RESPReply.error("ERR empty command")) }
        // EMBED first, without making a String: it is most of the traffic.
        if command.hasName("EMBED") && self.session.authenticated {
            self.hits.burst.requests += 1
            if args.count == 4 && String(buffer: args[2]).uppercased() == "MODEL" { return self.embedIn(args, sequence: sequence, context: context) }
            guard args.count == 2 else { return self.replies.complete(sequence, RESPReply.arity("EMBED")) }
            return self.embed(args[1], sequence: sequence, context: context)
        }
        if command.hasName("PEER.MEMBED") && self.session.authenticated && args.count >= 2 {
            if self.markPeerLink(), self.serveAllFromL1(args.dropFirst(), owned: true, sequence: sequence) { return }  // a forwarded hit, on the loop
        }
        let name = String(buffer: first).uppercased()
        if let refusal = self.session.refusal(name) ?? self.session.peerRefusal(name) { return self.replies.complete(sequence, refusal) }
        self.server.metrics.request("resp", RESPReply.metricName(name), caller: self.session.caller)
        if let outcome = self.session.apply(name, args.dropFirst()) { return self.answer(outcome, sequence: sequence, context: context) }
        if RESPPeerCommands.run(name, args, sequence: sequence, handler: self, context: context) { return }
        let lane = self.hits.lane
        switch name {
        case "MEMBED":
            guard args.count >= 2 else { return self.replies.complete(sequence, RESPReply.arity(name)) }
            self.hits.burst.batches += 1
            if self.serveAllFromL1(args.dropFirst(), owned: false, sequence: sequence) { return }
            self.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .vectors, sequence: sequence, context: context)
        case "PING":
            var reply = ByteBuffer()
            if args.count > 1 { reply.writeBulkString(args[1]) } else { reply.writeSimpleString("PONG") }
            self.replies.complete(sequence, reply)
        case "ECHO" where args.count == 2:
            var reply = ByteBuffer()
            reply.writeBulkString(args[1])
            self.replies.complete(sequence, reply)
        case "QUIT":
            self.replies.closeAfterReply(sequence)
            self.replies.complete(sequence, RESPReply.ok())
        case "INFO":
            let section = args.count > 1 ? String(buffer: args[1]).lowercased() : nil
            var reply = ByteBuffer()
            reply.writeBulkString(InfoReport.render(self.server, section: section))
            self.replies.complete(sequence, reply)
        case "INVALIDATE":
            guard args.count >= 2 else { return self.replies.complete(sequence, RESPReply.arity(name)) }
            let texts = args.dropFirst().map { Array($0.readableBytesView) }
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeRESPInteger(try await lane.invalidate(texts)) } catch { reply = RESPReply.nodeError(error) }
                return reply
            }
        case "EMBED.LOCATE":
            guard args.count == 2 else { return self.replies.complete(sequence, RESPReply.arity(name)) }
            let text = Array(args[1].readableBytesView)
            let id = self.server.nodeID
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do {
                    let (key, owner, tier) = try await lane.locate(text)
                    reply.writeArrayHeader(3)
                    reply.writeBulkString(key.hex)
                    reply.writeBulkString(owner ?? id)
                    reply.writeBulkString(tier)
                } catch { reply = RESPReply.nodeError(error) }
                return reply
            }
        case "EMBED.WARM":
            // For `embcache warm`, which routes by the ring itself: served here as owner; replies with
            // the tier that answered each text (l1, l2, computed, coalesced) instead of the vectors.
            guard args.count >= 2 else { return self.replies.complete(sequence, RESPReply.arity(name)) }
            self.hits.burst.batches += 1
            self.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .tiers, forwarded: true, sequence: sequence, context: context)
        case "SAVINGS":
            // This node's savings snapshot as JSON (for `embcache report` and the dashboard).
            var reply = ByteBuffer()
            reply.writeBulkString(self.server.savingsSnapshot().json())
            self.replies.complete(sequence, reply)
        case "CLUSTER":
            switch RESPNodeCommands.cluster(args.dropFirst(), server: self.server) {
            case .now(let reply): self.replies.complete(sequence, reply)
            case .later(let work): self.runAsync(sequence, context: context, work)
            }
        case "COMMAND":
            // redis-cli asks for command docs on start; an empty reply means "none to offer".
            var reply = ByteBuffer()
            reply.writeArrayHeader(0)
            self.replies.complete(sequence, reply)
        default:
            let shown = args.dropFirst().prefix(3).map { "'\(String(buffer: $0).prefix(40))'" }.joined(separator: " ")
            self.replies.complete(sequence, RESPReply.error("ERR unknown command '\(String(name.prefix(40)))', with args beginning with: \(shown)"))
        }
    }

    /// EMBED off the fast path: a hit, an owned key for the burst's MGET, a forward on the loop, or
    /// the burst's async lookup (unknown texts, which must be tokenized).
    private func embed(_ text: ByteBuffer, sequence: Int, context: ChannelHandlerContext) {
        let served = text.withUnsafeReadableBytes { bytes in
            self.hits.knownKey(bytes).map { self.serveKnownText($0, text: bytes, sequence: sequence, context: context) } ?? false
        }
        if !served { self.hits.deferredEmbeds.append((sequence, Array(text.readableBytesView))) }
    }

    /// An all-hit MEMBED, or a peer's PEER.MEMBED when `owned`, answered on the loop (RESPHitPath.serveAll).
    func serveAllFromL1(_ texts: ArraySlice<ByteBuffer>, owned: Bool, sequence: Int) -> Bool {
        self.hits.serveAll(texts.count, owned: owned, sequence: sequence, replies: &self.replies) { i, hit in
            texts[texts.startIndex + i].withUnsafeReadableBytes(hit)
        }
    }

    /// EMBED text MODEL name: this one text through `name`'s lane (async path).
    private func embedIn(_ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        switch self.server.lanes.select(String(buffer: args[3])) {
        case .failure(let unknown):
            self.replies.complete(sequence, RESPReply.error("ERR " + unknown.message))
        case .success(let selection):
            let account = selection.lane.node.savings.account(selection.lane.accountName(for: self.session.caller))
            self.runLookup([selection.prefix + Array(args[1].readableBytesView)], reply: .vector, sequence: sequence, context: context,
                           lane: selection.lane.node, account: account)
        }
    }

    /// EMBED ... DIMENSIONS n and MEMBED DIMENSIONS n ... (DimensionsOption): the full lookup path,
    /// each vector cut to the width asked for (OutputWidth). Off the all-hit fast path: the cache
    /// holds full vectors, and a cut vector is a new buffer.
    private func runCut(_ option: DimensionsOption, sequence: Int, context: ChannelHandlerContext) {
        guard self.session.authenticated else { return self.replies.complete(sequence, RESPReply.noAuth) }
        self.server.metrics.request("resp", option.isBatch ? "membed" : "embed", caller: self.session.caller)
        if option.isBatch { self.hits.burst.batches += 1 } else { self.hits.burst.requests += 1 }
        var selection = self.session.selection
        if let name = option.model {
            switch self.server.lanes.select(name) {
            case .success(let named): selection = named
            case .failure(let unknown): return self.replies.complete(sequence, RESPReply.error("ERR " + unknown.message))
            }
        }
        let width: OutputWidth?
        switch OutputWidth.resolve(option.dims, lane: selection.lane) {
        case .success(let resolved): width = resolved
        case .failure(let refusal): return self.replies.complete(sequence, RESPReply.error("ERR \(refusal.message)"))
        }
        let account = selection.lane.node.savings.account(selection.lane.accountName(for: self.session.caller))
        self.runLookup(option.texts.map { selection.prefix + Array($0.readableBytesView) }, reply: option.isBatch ? .vectors : .vector,
                       sequence: sequence, context: context, lane: selection.lane.node, account: account, width: width)
    }

    /// The command with the selected query/passage prefix put before every text, for the commands
    /// that take texts; others unchanged.
    private func applyingPrefix(_ command: RESPCommand) -> RESPCommand {
        let prefix = self.session.selection.prefix
        guard !prefix.isEmpty, command.arguments.count >= 2,
              Self.textCommands.contains(where: { command.hasName($0) }),
              !(command.hasName("EMBED") && command.arguments.count == 4)  // EMBED text MODEL name: its own model
        else { return command }
        var args = command.arguments
        for i in 1..<args.count {
            var text = ByteBuffer()
            text.reserveCapacity(prefix.count + args[i].readableBytes)
            text.writeBytes(prefix)
            text.writeImmutableBuffer(args[i])
            args[i] = text
        }
        return RESPCommand(arguments: args, framing: command.framing)
    }

    private static let textCommands: [StaticString] = ["EMBED", "MEMBED", "INVALIDATE", "EMBED.LOCATE", "EMBED.WARM"]

    /// A known text owned by another node: ask the owner over this loop's pipelined link and answer
    /// when it replies, all on the event loop (no task, no thread hop). On any failure the peer is
    /// reported and the request takes the async path, which routes again or computes here.
    private func forwardOnLoop(_ text: UnsafeRawBufferPointer, known: KnownText, sequence: Int, context: ChannelHandlerContext) -> Bool {
        let key = known.key
        let lane = self.session.selection.lane
        let fingerprint = lane.fingerprint
        guard let cluster = self.server.cluster,
            let owner = cluster.remoteOwner(of: key, fingerprint: fingerprint),
            let link = cluster.link(to: owner, on: context.eventLoop)
        else { return false }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        var command = ByteBuffer()
        command.reserveCapacity(96 + text.count)
        // PEER.MEMBED.FP fingerprint (version 2), or PEER.MEMBED [.IN name] to a version-1 peer.
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
                var codes: [UInt8]? = nil
                if items.count == 2, case .bulkString(let c?) = items[1] { codes = Array(c.readableBytesView) }
                handler.hits.chargeForwarded(known, ownerComputed: PeerTiers.computed(codes, 0), lane: lane.node, since: sent)
                handler.replies.complete(sequence) { $0.writeBulkString(vector) }
                handler.scheduleFlush(context: context)
            } else {
                // PEERMODEL: the owner serves another checkpoint (learned: the lookup serves it here);
                // anything else (a timeout, a reset, a bad reply) marks the owner down.
                if case .success(.error(let line)) = result, PeerHandshake.isModelMismatch(line) {
                    cluster.learnedMismatch(owner, fingerprint: fingerprint)
                } else {
                    cluster.reportFailure(owner)
                }
                handler.runLookup([copy], reply: .vector, sequence: sequence, context: context, lane: lane.node)
            }
        }
        return true
    }

    /// The burst's owned L1 misses, looked up in Redis from this loop (RESPL2Fetch). Hits are answered
    /// on the loop, copied from the reply straight into the output; misses, expired or undecodable
    /// values and failed lookups take the async path.
    func fetchDeferredFromL2(context: ChannelHandlerContext) {
        guard !self.hits.deferredKnown.isEmpty else { return }
        let batch = self.hits.deferredKnown
        self.hits.deferredKnown.removeAll(keepingCapacity: true)
        guard let l2 = self.hits.lane.l2 else { return self.lookUpAsync(batch.map { ($0.sequence, $0.text) }, context: context) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let sent = DispatchTime.now().uptimeNanoseconds
        self.l2.fetch(batch.map(\.known.key), l2: l2, on: context.eventLoop).whenSuccess { values in
            let (handler, context) = bound.value
            let (misses, unanswered) = handler.hits.answerFromL2(batch, values: values, since: sent, replies: &handler.replies)
            // Redis answered: its misses are not asked again. (A failed lookup is: the async path has
            // the health checks and follows redirects.)
            if !misses.isEmpty { handler.lookUpAsync(misses, l2Missed: true, context: context) }
            if !unanswered.isEmpty { handler.lookUpAsync(unanswered, context: context) }
            handler.scheduleFlush(context: context)
        }
    }

    /// One async lookup for the burst's EMBEDs that need more than L1 or L2 (a pipeline of 16 costs one task).
    func runDeferredEmbeds(context: ChannelHandlerContext) {
        guard !self.hits.deferredEmbeds.isEmpty else { return }
        let batch = self.hits.deferredEmbeds
        self.hits.deferredEmbeds.removeAll(keepingCapacity: true)
        self.lookUpAsync(batch, context: context)
    }

    /// The full lookup path for each text off the event loop, replies slotted in order.
    private func lookUpAsync(_ batch: [(sequence: Int, text: [UInt8])], l2Missed: Bool = false, context: ChannelHandlerContext) {
        let (lane, metrics, texts, account) = (self.hits.lane, self.server.metrics, batch.map(\.text), self.hits.account)
        self.runAsync(batch.map(\.sequence), context: context) {
            await RESPLookup.each(texts, lane: lane, metrics: metrics, l2Missed: l2Missed, account: account)
        }
    }

    /// The full lookup path for `texts` off the event loop, one reply slotted in order. `lane`: when
    /// not the connection's (EMBED ... MODEL, PEER.*.IN), and `account` its account.
    func runLookup(_ texts: [[UInt8]], reply kind: RESPLookup.Reply, forwarded: Bool = false, sequence: Int, context: ChannelHandlerContext,
                   lane: EmbeddingNode? = nil, account: CallerAccount? = nil, width: OutputWidth? = nil) {
        let (lane, metrics, account) = (lane ?? self.hits.lane, self.server.metrics, account ?? self.hits.account)
        self.runAsync(sequence, context: context) {
            await RESPLookup.one(texts, kind: kind, forwarded: forwarded, lane: lane, metrics: metrics, account: account, width: width)
        }
    }
}
