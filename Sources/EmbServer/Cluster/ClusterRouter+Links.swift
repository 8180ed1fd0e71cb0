// The peer links as the cluster uses them: every request to a peer (a forward, a locate, an
// invalidation, SAVINGS, the health check's PING) goes over a PeerLink, and every new connection
// opens with the handshake. Forwards carry the lane's model fingerprint to peers of version 2
// (PEER.MEMBED.FP fingerprint text...); a version-1 peer gets the old commands, and only for the
// models whose fingerprints its INFO showed (ClusterRouter.remoteOwner keeps the others here).
import EmbCluster
import EmbNode
import EmbRedis
import EmbRESP
import Foundation
import NIOCore

extension ClusterRouter {
    /// How long an asker waits for a forward before it serves the texts itself: 1 s, plus 10 ms a
    /// text (an owner computes a big batch of misses in its batcher). A peer whose link went silent
    /// (half-open: no RST) costs a request this, not the 10 s a link is kept before it is dropped.
    static func forwardTimeout(texts: Int) -> TimeAmount { .milliseconds(1000 + 10 * Int64(texts)) }
    /// A link whose oldest request waits this long is dropped and made again.
    static let linkTimeout: TimeAmount = .seconds(10)
    /// The health check's PING, and a health link's own bound.
    static let healthTimeout: TimeAmount = .milliseconds(300)

    private var credentials: RedisCredentials? { self.secret.map { RedisCredentials(username: nil, password: $0.reveal) } }

    private func address(of peer: String) -> (host: String, port: Int)? {
        self.state.withLock { s in s.peers[peer].map { ($0.host, $0.port) } }
    }

    /// The forward link to `peer` for a caller on `loop` (made on first use; remade when the peer's
    /// address changed in a reload).
    func link(to peer: String, on loop: any EventLoop) -> PeerLink? {
        guard let (host, port) = self.address(of: peer) else { return nil }
        return self.links.link(peer, on: loop, isCurrent: { $0.host == host && $0.port == port }) {
            PeerLink(host: host, port: port, credentials: self.credentials, eventLoop: loop, timeout: Self.linkTimeout,
                     handshake: { send in self.handshake(with: peer, send: send) }, tls: self.tls)
        }
    }

    /// The health link to `peer`, on a loop of the group's chosen once per peer.
    private func healthLink(to peer: String) -> PeerLink? {
        guard let (host, port) = self.address(of: peer) else { return nil }
        let loop = self.healthLinks.links(to: peer).first?.eventLoop ?? self.group.next()
        return self.healthLinks.link(peer, on: loop, isCurrent: { $0.host == host && $0.port == port }) {
            PeerLink(host: host, port: port, credentials: self.credentials, eventLoop: loop, timeout: .seconds(1),
                     handshake: { send in self.handshake(with: peer, send: send) }, tls: self.tls)
        }
    }

    /// Closes every link to `peer`: requests in flight fail at once and fall back (a peer just
    /// found down must not keep them waiting for their timeouts).
    func closeLinks(to peer: String) {
        for link in self.links.links(to: peer) + self.healthLinks.links(to: peer) {
            link.eventLoop.execute { link.close() }
        }
    }

    /// PEER.HELLO on a new connection to `peer`: records the version and fingerprints it answers,
    /// or (an older release, which knows no PEER.HELLO) version 1 and the fingerprints of its INFO.
    func handshake(with peer: String, send: @escaping @Sendable ([ByteBuffer]) -> EventLoopFuture<RESPValue>) -> EventLoopFuture<Void> {
        let mine = self.hello
        let sent = send(mine.command.map { ByteBuffer(string: $0) })
        let loop = sent.eventLoop
        return sent.flatMapThrowing { reply -> Bool in
            switch reply {
            case .array(let items?):
                let fields = items.compactMap { item -> String? in
                    if case .bulkString(let b?) = item { return String(buffer: b) }
                    return nil
                }
                guard fields.count == items.count, let theirs = PeerHello(fields: fields) else { throw PeerError.badReply(peer) }
                switch PeerHandshake.accept(theirs, mine: mine) {
                case .success(let version):
                    self.learned(peer, version: version, fingerprints: theirs.fingerprints)
                    return false
                case .failure(let refusal):
                    self.refused(peer, refusal)
                    throw refusal
                }
            case .error(let line) where PeerHandshake.isUnknownCommand(line):
                return true  // an older release: version 1, fingerprints from its INFO
            case .error(let line):
                let refusal = PeerRefusal(errorLine: line) ?? .malformed
                self.refused(peer, refusal, line: line)
                throw refusal
            default:
                throw PeerError.badReply(peer)
            }
        }.flatMap { older -> EventLoopFuture<Void> in
            guard older else { return loop.makeSucceededVoidFuture() }
            return send([ByteBuffer(string: "INFO"), ByteBuffer(string: "models")]).flatMapThrowing { reply in
                guard case .bulkString(let info?) = reply else { throw PeerError.badReply(peer) }
                self.learned(peer, version: PeerProtocol.oldest, fingerprints: PeerHandshake.fingerprints(fromInfo: String(buffer: info)))
            }
        }
    }

    private func learned(_ peer: String, version: Int, fingerprints: [String]) {
        let (mine, changed) = self.state.withLock { s -> (Set<String>, Bool) in
            let changed = s.peers[peer]?.fingerprints != Set(fingerprints) || s.peers[peer]?.version != version
            s.peers[peer]?.version = version
            s.peers[peer]?.fingerprints = Set(fingerprints)
            return (Set(s.served), changed)
        }
        // Every link's handshake learns the same: say it when it changes, not once per link.
        let foreign = mine.subtracting(fingerprints)
        if changed && !foreign.isEmpty {
            self.logger.warning("peer serves other checkpoints of some of this node's models: their keys are served here",
                                metadata: ["peer": "\(peer)", "model.fingerprints": "\(foreign.sorted())", "peer.version": "\(version)"])
        }
    }

    private func refused(_ peer: String, _ refusal: PeerRefusal, line: String? = nil) {
        let first = self.state.withLock { s -> Bool in
            s.refusals += 1
            s.peers[peer]?.health.refused(at: .now)
            return s.loggedRefusals.insert(peer).inserted
        }
        if first { self.logger.error("peer refused in the handshake", metadata: ["peer": "\(peer)", "reason": "\(line ?? refusal.description)"]) }
    }

    /// A peer's PEER.HELLO, refused by this node (another cluster): counted, logged once per peer.
    func refusedHello(from node: String, _ refusal: PeerRefusal) {
        let first = self.state.withLock { s -> Bool in
            s.refusals += 1
            return s.loggedRefusals.insert("in \(node)").inserted
        }
        if first { self.logger.error("refused a peer's handshake", metadata: ["peer": "\(node)", "reason": "\(refusal)"]) }
    }

    /// Sends `args` to `peer` over a forward link of a loop of the group; the reply.
    func send(_ args: [ByteBuffer], to peer: String, timeout: TimeAmount) async throws -> RESPValue {
        let loop = self.group.any()
        guard let link = self.link(to: peer, on: loop) else { throw PeerError.unavailable(peer) }
        return try await loop.flatSubmit { link.send(args, timeout: timeout) }.get()
    }

    /// The command of a forward of `kind` ("MEMBED", "LOCATE", "INVALIDATE") to a peer of `version`:
    /// PEER.<kind>.FP fingerprint from version 2; before, PEER.<kind> (the default model) or
    /// PEER.<kind>.IN name.
    static func command(_ kind: String, version: Int, fingerprint: String, model: String?) -> [ByteBuffer] {
        if version >= 2 { return [ByteBuffer(string: "PEER.\(kind).FP"), ByteBuffer(string: fingerprint)] }
        return model.map { [ByteBuffer(string: "PEER.\(kind).IN"), ByteBuffer(string: $0)] } ?? [ByteBuffer(string: "PEER.\(kind)")]
    }

    /// A forward's reply, or PeerModelMismatch when the owner answered PEERMODEL (it is learned, so the
    /// texts, routed again, are served here).
    private func forward(_ kind: String, _ texts: [[UInt8]], to peer: String, fingerprint: String, model: String?) async throws -> RESPValue {
        let args = Self.command(kind, version: self.version(of: peer), fingerprint: fingerprint, model: model) + texts.map { ByteBuffer(bytes: $0) }
        let reply = try await self.send(args, to: peer, timeout: Self.forwardTimeout(texts: texts.count))
        if case .error(let line) = reply {
            if PeerHandshake.isModelMismatch(line) {
                self.learnedMismatch(peer, fingerprint: fingerprint)
                throw PeerModelMismatch(peer: peer)
            }
            throw PeerError.badReply(peer)
        }
        return reply
    }

    /// The vectors of `texts` from `peer`, which serves them as their owner, for the lane of
    /// `fingerprint` (named `model`, nil for the default), whose vectors have `vectorBytes` bytes.
    func fetch(_ texts: [[UInt8]], from peer: String, fingerprint: String, model: String?, vectorBytes: Int) async throws
        -> [(vector: [UInt8], computed: Bool)]
    {
        self.countForward()
        guard case .array(let items?) = try await self.forward("MEMBED", texts, to: peer, fingerprint: fingerprint, model: model),
            items.count == texts.count || items.count == texts.count + 1
        else { throw PeerError.badReply(peer) }
        var codes: [UInt8]? = nil
        if items.count == texts.count + 1, case .bulkString(let c?) = items[texts.count] { codes = Array(c.readableBytesView) }
        return try items.prefix(texts.count).enumerated().map { i, item in
            guard case .bulkString(let bytes?) = item, bytes.readableBytes == vectorBytes else { throw PeerError.badReply(peer) }
            return (Array(bytes.readableBytesView), PeerTiers.computed(codes, i))
        }
    }

    /// The tier that would serve `text` on `peer`.
    func locate(_ text: [UInt8], at peer: String, fingerprint: String, model: String?) async throws -> String {
        guard case .bulkString(let tier?) = try await self.forward("LOCATE", [text], to: peer, fingerprint: fingerprint, model: model) else {
            throw PeerError.badReply(peer)
        }
        return String(buffer: tier)
    }

    /// Removes `texts` on `peer`; the number it removed.
    func invalidate(_ texts: [[UInt8]], at peer: String, fingerprint: String, model: String?) async throws -> Int {
        guard case .integer(let n) = try await self.forward("INVALIDATE", texts, to: peer, fingerprint: fingerprint, model: model) else {
            throw PeerError.badReply(peer)
        }
        return n
    }

    /// One command to `peer` (SAVINGS for the dashboard); nil when it cannot be reached.
    func call(_ args: [String], at peer: String) async -> RESPValue? {
        try? await self.send(args.map { ByteBuffer(string: $0) }, to: peer, timeout: .seconds(2))
    }

    /// One health check of every peer that is due (PeerHealthService calls this on its clock's ticks).
    func checkDuePeers() async {
        let now = ContinuousClock.now
        let due = self.state.withLock { s in s.peers.filter { $0.value.health.due(at: now) }.map(\.key) }
        await withTaskGroup(of: Void.self) { group in
            for peer in due { group.addTask { await self.check(peer) } }
        }
    }

    private func check(_ peer: String) async {
        var answered = false
        var silent = false
        if let link = self.healthLink(to: peer) {
            do {
                let reply = try await link.eventLoop.flatSubmit { link.send([ByteBuffer(string: "PING")], timeout: Self.healthTimeout) }.get()
                answered = reply == .simpleString("PONG")
            } catch PeerError.timedOut {
                silent = true
            } catch ChannelError.connectTimeout {
                silent = true
            } catch {}
        }
        let now = ContinuousClock.now
        let change = self.state.withLock { s -> Health.Status? in
            guard s.peers[peer] != nil else { return nil }
            if answered { return s.peers[peer]!.health.answered(at: now) }
            return s.peers[peer]!.health.missed(at: now, connectionRefused: !silent)
        }
        guard let change else { return }
        self.logger.info("peer \(change.rawValue)", metadata: ["peer": "\(peer)"])
        if change == .failed { self.closeLinks(to: peer) }
    }
}
