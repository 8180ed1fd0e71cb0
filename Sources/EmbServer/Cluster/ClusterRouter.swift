// The cluster as the node's lanes share it (each lane's PeerRouter is a LaneRouter over it): the
// consistent-hash ring (EmbRing) over the nodes of the cluster file, this node's view of each peer
// (health, protocol version, the fingerprints of the models it serves), and the peer links
// (ClusterRouter+Links). The ring skips peers that are not up (PeerHealth), so their keys go to the
// next node clockwise; a node that comes back takes its keys back. A key whose owner does not serve
// the asking lane's fingerprint (another checkpoint under the same name) is served here and counted
// as a peer model mismatch: a node never hands out another model's vector.
import EmbCluster
import EmbHash
import EmbNode
import EmbRedis
import EmbRing
import EmbTLS
import Foundation
import Logging
import NIOCore
import Synchronization

public final class ClusterRouter: Sendable {
    public let selfID: String
    let secret: Secret?
    let logger: Logger
    let group: any EventLoopGroup
    /// The node's TLS: peer links of a TLS cluster speak mutual TLS (nil: plaintext).
    let tls: NodeTLS?
    let state: Mutex<State>
    private let viewedOnce = Atomic<Bool>(false)
    /// Forward links: one per (peer, event loop).
    let links = LinkRegistry()
    /// Health links: one per peer, apart from the forward links because replies come in order and a
    /// health check must not wait behind a forward the owner is still computing.
    let healthLinks = LinkRegistry()
    /// How long a node waits, at most, for a peer it has never seen before it says ready (/readyz).
    static let readinessGrace: Duration = .seconds(3)

    typealias Health = PeerHealth<ContinuousClock.Instant>

    /// What this node knows of one peer.
    struct PeerView: Sendable {
        var host: String
        var port: Int
        var health: Health
        /// The protocol version agreed in the last handshake (nil: none yet).
        var version: Int?
        /// The fingerprints of the models it serves, from its handshake (or its INFO for version 1).
        var fingerprints: Set<String>?
    }

    struct State: @unchecked Sendable {  // ClusterFile and HashRing are values, guarded by the Mutex
        var file: ClusterFile
        var ring: HashRing
        var peers: [String: PeerView]
        /// The fingerprints of this node's models, in lane order (set once the lanes are built).
        var served: [String] = []
        var forwards = 0
        var forwardFailures = 0
        /// Texts served here because their owner serves another checkpoint of the model.
        var modelMismatches = 0
        /// Handshakes refused (a peer of another cluster, either way).
        var refusals = 0
        /// (peer, fingerprint) pairs already logged, and refused peers already logged: once each.
        var loggedMismatches: Set<String> = []
        var loggedRefusals: Set<String> = []
    }

    public init(file: ClusterFile, selfID: String, group: any EventLoopGroup, logger: Logger, tls: NodeTLS? = nil) {
        self.selfID = selfID
        self.tls = tls
        self.secret = file.secret
        self.logger = logger
        self.group = group
        let now = ContinuousClock.now
        self.state = Mutex(State(file: file, ring: Self.ring(file), peers: Self.views(file, selfID: selfID, keeping: [:], now: now)))
    }

    static func ring(_ file: ClusterFile) -> HashRing {
        HashRing(nodes: file.nodes.map { RingNode(id: $0.id, weight: $0.weight) }, vnodes: file.vnodes)
    }

    /// The peers of `file`, keeping what is known of those whose address did not change.
    static func views(_ file: ClusterFile, selfID: String, keeping old: [String: PeerView], now: ContinuousClock.Instant) -> [String: PeerView] {
        var views: [String: PeerView] = [:]
        for node in file.nodes where node.id != selfID {
            if let v = old[node.id], v.host == node.resp.host, v.port == node.resp.port {
                views[node.id] = v
            } else {
                views[node.id] = PeerView(host: node.resp.host, port: node.resp.port, health: Health(now: now))
            }
        }
        return views
    }

    /// The fingerprints of the node's models (hex), in lane order: sent in every handshake.
    public func serve(fingerprints: [String]) { self.state.withLock { $0.served = fingerprints } }

    /// This node's side of a handshake.
    var hello: PeerHello {
        self.state.withLock { s in PeerHello(version: PeerProtocol.current, cluster: s.file.name, node: self.selfID, fingerprints: s.served) }
    }

    /// Applies a new cluster file (SIGHUP, CLUSTER RELOAD): a new ring; peers kept where unchanged.
    public func reload(_ file: ClusterFile) {
        let retired = self.state.withLock { s -> [String] in
            let views = Self.views(file, selfID: self.selfID, keeping: s.peers, now: .now)
            let retired = s.peers.keys.filter { id in views[id].map { $0.host != s.peers[id]!.host || $0.port != s.peers[id]!.port } ?? true }
            s.file = file
            s.ring = Self.ring(file)
            s.peers = views
            return retired
        }
        retired.forEach { self.closeLinks(to: $0) }
        self.logger.info("cluster file applied", metadata: ["cluster.nodes": "\(file.nodes.map(\.id))"])
    }

    /// The up node that owns `key` when it is another node that serves `fingerprint`; nil when this
    /// node serves it (it owns it, or its owner serves another checkpoint: a mismatch, counted).
    public func remoteOwner(of key: CacheKey, fingerprint: String) -> String? {
        let (owner, mismatched) = self.state.withLock { s -> (String?, String?) in
            let owner = s.ring.owner(of: key.ringPosition) { $0 == self.selfID || s.peers[$0]?.health.routable == true }
            guard let owner, owner != self.selfID, let view = s.peers[owner] else { return (nil, nil) }
            if view.fingerprints?.contains(fingerprint) == true { return (owner, nil) }
            s.modelMismatches += 1
            return (nil, s.loggedMismatches.insert("\(owner) \(fingerprint)").inserted ? owner : nil)
        }
        if let mismatched { self.logMismatch(mismatched, fingerprint) }
        return owner
    }

    private func logMismatch(_ peer: String, _ fingerprint: String) {
        self.logger.warning("a peer does not serve this node's model: its keys of that model are served here (peer_model_mismatch)",
                            metadata: ["peer": "\(peer)", "model.fingerprint": "\(fingerprint)"])
    }

    /// The peer answered PEERMODEL for `fingerprint`: it no longer (or never) serves it.
    func learnedMismatch(_ peer: String, fingerprint: String) {
        self.state.withLock { s in _ = s.peers[peer]?.fingerprints?.remove(fingerprint) }
        self.logger.warning("peer answered PEERMODEL: it serves another checkpoint of this model", metadata: ["peer": "\(peer)", "model.fingerprint": "\(fingerprint)"])
    }

    /// The version `peer` speaks (the oldest until a handshake says more).
    func version(of peer: String) -> Int {
        self.state.withLock { $0.peers[peer]?.version ?? PeerProtocol.oldest }
    }

    public func reportFailure(_ peer: String) {
        let change = self.state.withLock { s -> PeerHealth<ContinuousClock.Instant>.Status? in
            s.forwardFailures += 1
            return s.peers[peer]?.health.forwardFailed(at: .now)
        }
        if change != nil {
            self.logger.warning("peer down after a failed forward", metadata: ["peer": "\(peer)"])
            self.closeLinks(to: peer)
        }
    }

    func countForward() { self.state.withLock { $0.forwards += 1 } }

    /// (id, resp, http, up, vnodes) for CLUSTER NODES.
    public var nodes: [(id: String, resp: String, http: String, up: Bool, vnodes: Int)] {
        self.state.withLock { s in
            s.file.nodes.map { n in
                (n.id, "\(n.resp)", "\(n.http)", n.id == self.selfID || s.peers[n.id]?.health.routable == true,
                 Int((Double(s.file.vnodes) * n.weight).rounded()))
            }
        }
    }

    /// The ring's points for CLUSTER RING.
    public var points: [(hash: UInt64, node: String)] { self.state.withLock { $0.ring.points } }

    /// Counts for INFO and metrics.
    public var summary: (up: Int, down: Int, forwards: Int, failures: Int, neverSeen: Int, modelMismatches: Int, refusals: Int) {
        self.state.withLock { s in
            let up = s.peers.values.filter { $0.health.routable }.count
            let never = s.peers.values.filter { $0.health.status == .neverSeen }.count
            return (up, s.peers.count - up, s.forwards, s.forwardFailures, never, s.modelMismatches, s.refusals)
        }
    }

    /// Whether the node has a view of every peer (each answered, failed after answering, or was
    /// tried for `readinessGrace` without answering): until then /readyz says 503. Latched: a reload
    /// that adds a node not up yet must not take a serving node out of its load balancer.
    public var hasPeerView: Bool {
        if self.viewedOnce.load(ordering: .relaxed) { return true }
        let now = ContinuousClock.now
        let viewed = self.state.withLock { s in s.peers.values.allSatisfy { $0.health.viewed(at: now, grace: Self.readinessGrace) } }
        if viewed { self.viewedOnce.store(true, ordering: .relaxed) }
        return viewed
    }
}

/// A forward that could not be done.
public enum PeerError: Error, Equatable {
    case unavailable(String)
    case badReply(String)
    /// The caller's deadline passed before the reply (PeerLink).
    case timedOut
}
