// What every connection handler of a node shares: the node, its identity, the secret, counters.
import EmbCluster
import EmbNode
import EmbRedis
import EmbTLS
import Foundation
import NIOCore
import Synchronization

/// Shared, thread-safe state of one node's servers.
public final class ServerContext: Sendable {
    /// The served models (ModelCatalog): one lane each, the default first.
    public let models: ModelCatalog
    /// Model names -> lanes, the same for RESP and HTTP.
    package let lanes: LaneResolver
    public let nodeID: String
    /// The cluster secret; nil = open (loopback only). Prints as "<redacted>".
    public let secret: Secret?
    /// Whether GET /metrics answers without the secret when one is set.
    public let metricsPublic: Bool
    /// Connection, output and time limits.
    public let limits: ConnectionLimits
    /// Failed AUTH / bearer attempts, per client address, and the delays they earn.
    public let authThrottle = AuthThrottle()
    /// The credential check of both doors (the secret, the throttle).
    let authGate: AuthGate
    /// Open client connections (RESP and HTTP) against `limits.maxClients`.
    let connections: ConnectionGate
    public let version = "0.1.0"
    public let startedAt = Date()
    public let metrics: NodeMetrics
    /// Re-reads the cluster file and applies it (CLUSTER RELOAD, SIGHUP); nil when not in a cluster.
    public let reload: (@Sendable () -> Result<Void, any Error>)?
    /// The cluster (ring, peers); nil for a standalone node.
    public let cluster: ClusterRouter?
    /// TLS contexts of the doors and peer links (reloaded with the cluster file); nil = plaintext.
    public let tls: NodeTLS?
    private let nextConnectionID = Atomic<Int>(1)
    private let callerNames = Mutex<Set<String>>([])
    /// Distinct caller labels kept; later names fold into "other", so metrics stay bounded.
    static let maxCallers = 32

    public init(models: ModelCatalog, nodeID: String, secret: Secret?, metrics: NodeMetrics, cluster: ClusterRouter? = nil,
                reload: (@Sendable () -> Result<Void, any Error>)? = nil, metricsPublic: Bool = false, limits: ConnectionLimits = ConnectionLimits(),
                tls: NodeTLS? = nil) {
        self.tls = tls
        self.metricsPublic = metricsPublic
        self.limits = limits
        self.models = models
        self.reload = reload
        self.cluster = cluster
        self.nodeID = nodeID
        self.secret = secret
        self.metrics = metrics
        self.lanes = LaneResolver(models)
        self.connections = ConnectionGate(maxClients: limits.maxClients, metrics: metrics)
        self.authGate = AuthGate(secret: secret, throttle: self.authThrottle, metrics: metrics)
    }

    /// The node's Redis (every lane's client talks to the same one; nil without L2).
    var l2Configuration: RedisL2Configuration? { self.models.defaultLane.node.l2?.configuration }

    private let redisLinks = LinkRegistry()
    /// A Redis reply later than this drops the event-loop link; its requests take the async path,
    /// where a down Redis is a miss (L2 must never stall a request).
    static let redisLinkTimeout = TimeAmount.seconds(1)

    /// The event-loop link to this node's Redis for callers on `loop` (nil without L2).
    func redisLink(on loop: any EventLoop) -> PeerLink? {
        guard let c = self.l2Configuration else { return nil }
        return self.redisLinks.link("redis", on: loop) { PeerLink(host: c.host, port: c.port, credentials: c.credentials, eventLoop: loop, database: c.db,
                                                              timeout: Self.redisLinkTimeout) }
    }

    /// The event-loop link to one master of this node's Redis Cluster, for callers on `loop`.
    func redisLink(to master: RedisNodeAddress, on loop: any EventLoop) -> PeerLink {
        let credentials = self.l2Configuration?.credentials
        return self.redisLinks.link("redis@\(master)", on: loop) {
            PeerLink(host: master.host, port: master.port, credentials: credentials, eventLoop: loop, timeout: Self.redisLinkTimeout)
        }
    }

    /// Open client connections now.
    public var connectedClients: Int { self.connections.connected }
    /// Connections refused at `limits.maxClients` since start.
    public var refusedConnections: Int { self.connections.refused }

    func connectionID() -> Int { self.nextConnectionID.add(1, ordering: .relaxed).oldValue }

    /// The metrics label for a caller name: itself if among the first `maxCallers` seen, else "other".
    func callerLabel(_ name: String?) -> String {
        guard let name, !name.isEmpty else { return "anonymous" }
        let label = String(name.prefix(64).map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        return self.callerNames.withLock { names in
            if names.contains(label) { return label }
            if names.count < Self.maxCallers {
                names.insert(label)
                return label
            }
            return "other"
        }
    }
}
