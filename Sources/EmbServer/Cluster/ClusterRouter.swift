// The cluster as the node's lanes share it (each lane's PeerRouter is a LaneRouter over it): the consistent-hash ring (EmbRing) over the nodes of the
// cluster file, peer connections, and a health checker. Peers are PINGed every 500 ms; one is down
// after 3 missed PINGs in a row, a refused connection, or a failed forward, and up again at its next
// answer. The ring skips down nodes, so their keys go to the next node clockwise; a node that comes
// back takes its keys back (its L1 was lost with it, but L2 is shared through Redis when configured so).
import EmbCluster
import EmbHash
import EmbNode
import EmbRedis
import EmbRing
import Foundation
import Logging
import NIOCore
import Synchronization

public final class ClusterRouter: Sendable {
    public let selfID: String
    private let secret: Secret?
    private let logger: Logger
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)

    struct State: @unchecked Sendable {
        var file: ClusterFile
        var ring: HashRing
        var peers: [String: PeerClient]
        var down: Set<String>
        var misses: [String: Int]
        var forwards = 0
        var forwardFailures = 0
    }

    public init(file: ClusterFile, selfID: String, logger: Logger) {
        self.selfID = selfID
        self.secret = file.secret
        self.logger = logger
        self.state = Mutex(State(file: file, ring: Self.ring(file), peers: Self.peers(file, selfID: selfID, secret: file.secret),
                                 down: [], misses: [:]))
        let thread = Thread { [self] in self.healthLoop() }
        thread.name = "embcache-peer-health"
        thread.start()
    }

    static func ring(_ file: ClusterFile) -> HashRing {
        HashRing(nodes: file.nodes.map { RingNode(id: $0.id, weight: $0.weight) }, vnodes: file.vnodes)
    }

    static func peers(_ file: ClusterFile, selfID: String, secret: Secret?) -> [String: PeerClient] {
        var peers: [String: PeerClient] = [:]
        for node in file.nodes where node.id != selfID {
            peers[node.id] = PeerClient(id: node.id, host: node.resp.host, port: node.resp.port, secret: secret)
        }
        return peers
    }

    /// Applies a new cluster file (SIGHUP, CLUSTER RELOAD): a new ring; peers kept where unchanged.
    public func reload(_ file: ClusterFile) {
        let retired = self.state.withLock { s -> [PeerClient] in
            var retired: [PeerClient] = []
            var peers: [String: PeerClient] = [:]
            for node in file.nodes where node.id != self.selfID {
                if let p = s.peers[node.id], p.host == node.resp.host, p.port == node.resp.port {
                    peers[node.id] = p
                } else {
                    peers[node.id] = PeerClient(id: node.id, host: node.resp.host, port: node.resp.port, secret: file.secret)
                }
            }
            for (id, p) in s.peers where peers[id] !== p { retired.append(p) }
            s.file = file
            s.ring = Self.ring(file)
            s.peers = peers
            s.down = s.down.filter { peers[$0] != nil }
            return retired
        }
        retired.forEach { $0.close() }
        self.logger.info("cluster file applied", metadata: ["cluster.nodes": "\(file.nodes.map(\.id))"])
    }

    public func remoteOwner(of key: CacheKey) -> String? {
        self.state.withLock { s in
            let owner = s.ring.owner(of: key.ringPosition) { $0 == self.selfID || !s.down.contains($0) }
            return owner == self.selfID ? nil : owner
        }
    }

    func peer(_ id: String) -> PeerClient? { self.state.withLock { $0.peers[id] } }

    /// The vectors of `texts` from `peer`, which serves them as their owner, for `model` (nil: the default, PEER.MEMBED; else PEER.MEMBED.IN model), whose vectors
    /// have `vectorBytes` bytes.
    func fetch(_ texts: [[UInt8]], from peer: String, model: String?, vectorBytes: Int) async throws -> [(vector: [UInt8], computed: Bool)] {
        self.state.withLock { $0.forwards += 1 }
        guard let client = self.peer(peer), let items = await client.fetch(texts, model: model) else {
            throw PeerError.unavailable(peer)
        }
        var codes: [UInt8]? = nil
        if items.count == texts.count + 1, case .string(let c) = items[texts.count] { codes = c }
        return try items.prefix(texts.count).enumerated().map { i, item in
            guard case .string(let bytes) = item, bytes.count == vectorBytes else { throw PeerError.badReply(peer) }
            return (bytes, PeerTiers.computed(codes, i))
        }
    }

    public func reportFailure(_ peer: String) {
        let wasUp = self.state.withLock { s -> Bool in
            s.forwardFailures += 1
            return s.down.insert(peer).inserted
        }
        if wasUp { self.logger.warning("peer down after a failed forward", metadata: ["peer": "\(peer)"]) }
    }

    /// The tier that would serve `text` of `model` (nil: the default) on `peer`.
    func locate(_ text: [UInt8], at peer: String, model: String?) async throws -> String {
        let name = model.map { [Array("PEER.LOCATE.IN".utf8), Array($0.utf8)] } ?? [Array("PEER.LOCATE".utf8)]
        guard let client = self.peer(peer), case .string(let tier)? = await client.call(name + [text]) else {
            throw PeerError.unavailable(peer)
        }
        return String(decoding: tier, as: UTF8.self)
    }

    /// Removes `texts` of `model` (nil: the default) on `peer`; the number it removed.
    func invalidate(_ texts: [[UInt8]], at peer: String, model: String?) async throws -> Int {
        let name = model.map { [Array("PEER.INVALIDATE.IN".utf8), Array($0.utf8)] } ?? [Array("PEER.INVALIDATE".utf8)]
        guard let client = self.peer(peer), case .integer(let n)? = await client.call(name + texts) else {
            throw PeerError.unavailable(peer)
        }
        return n
    }

    /// (id, resp, http, up, vnodes) for CLUSTER NODES.
    public var nodes: [(id: String, resp: String, http: String, up: Bool, vnodes: Int)] {
        self.state.withLock { s in
            s.file.nodes.map { n in
                (n.id, "\(n.resp)", "\(n.http)", n.id == self.selfID || !s.down.contains(n.id), Int((Double(s.file.vnodes) * n.weight).rounded()))
            }
        }
    }

    /// The ring's points for CLUSTER RING.
    public var points: [(hash: UInt64, node: String)] { self.state.withLock { $0.ring.points } }

    /// (peers up, peers down, forwards, failed forwards) for INFO and metrics.
    public var summary: (up: Int, down: Int, forwards: Int, failures: Int) {
        self.state.withLock { s in (s.peers.count - s.down.count, s.down.count, s.forwards, s.forwardFailures) }
    }

    public func stop() { self.stopped.store(true, ordering: .relaxed) }

    private let links = LinkRegistry()

    /// The event-loop link to `peer` for a caller on `loop` (made on first use; remade when the
    /// peer's address changed in a reload).
    func link(to peer: String, on loop: any EventLoop) -> PeerLink? {
        guard let client = self.peer(peer) else { return nil }
        return self.links.link(peer, on: loop, isCurrent: { $0.host == client.host && $0.port == client.port }) {
            PeerLink(host: client.host, port: client.port, credentials: self.secret.map { RedisCredentials(username: nil, password: $0.reveal) }, eventLoop: loop,
                     timeout: .seconds(Int64(PeerClient.commandTimeout)))
        }
    }

    /// PINGs every peer every 500 ms on connections of its own (short timeouts).
    private func healthLoop() {
        var connections: [String: RedisConnection] = [:]
        while !self.stopped.load(ordering: .relaxed) {
            let peers = self.state.withLock { s in s.peers.values.map { ($0.id, $0.host, $0.port) } }
            for (id, host, port) in peers {
                if connections[id] == nil {
                    connections[id] = PeerClient.connect(host: host, port: port, secret: self.secret, timeout: 0.3)
                }
                var alive = false
                if let c = connections[id], case .status("PONG")? = c.command([Array("PING".utf8)]) { alive = true }
                if !alive { connections[id] = nil }
                let change = self.state.withLock { s -> String? in
                    if alive {
                        s.misses[id] = 0
                        return s.down.remove(id) != nil ? "up" : nil
                    }
                    s.misses[id, default: 0] += 1
                    // A refused connection is down at once; a silent peer after 3 missed PINGs.
                    if (connections[id] == nil || s.misses[id]! >= 3), s.down.insert(id).inserted { return "down" }
                    return nil
                }
                if let change { self.logger.info("peer \(change)", metadata: ["peer": "\(id)"]) }
            }
            usleep(500_000)
        }
    }
}

/// A forward that could not be done.
public enum PeerError: Error, Equatable {
    case unavailable(String)
    case badReply(String)
}
