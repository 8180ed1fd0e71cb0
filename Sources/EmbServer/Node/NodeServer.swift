// Assembly of a node: model, L1/L2, batcher, RESP and HTTP listeners, as Services of one
// ServiceGroup (swift-service-lifecycle). `serve` and the tests both call `buildNode`. On SIGTERM or
// SIGINT the group shuts down in reverse order: listeners stop accepting and close, then the L2
// service stops the batcher and drains the write-behind queue.
import EmbCluster
import EmbModel
import EmbNode
import EmbRESP
import EmbRedis
import EmbTLS
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Everything `embcache serve` can be told.
public struct NodeOptions: Sendable {
    public var nodeID = "n1"
    public var respHost = "127.0.0.1"
    public var respPort = 7400
    public var httpHost = "127.0.0.1"
    public var httpPort = 8400
    /// Redis address and login; nil = L1 only.
    public var redis: ClusterFile.RedisAddress? = ClusterFile.RedisAddress(host: "127.0.0.1", port: 6379, db: 0)
    /// When true, a Redis that does not answer at start is dropped (L1 only) with a warning.
    public var redisOptional = false
    /// The served models, the default first (a cluster file's `models:`, or `--model DIR`).
    public var models = [ClusterFile.Model.fromPath(ModelFiles.defaultDirectory)]
    /// The default model's folder (`--model`): sets a one-model list.
    public var modelDirectory: String {
        get { self.models[0].path }
        set { self.models = [ClusterFile.Model.fromPath(newValue)] }
    }
    public var node = NodeConfiguration()
    /// The secret clients and peers must present (RESP AUTH, HTTP bearer); nil = open (loopback only).
    public var secret: Secret?
    /// Whether GET /metrics answers without the secret.
    public var metricsPublic = false
    /// Allows listening beyond loopback with no secret (a loud warning is logged).
    public var insecure = false
    /// Limits that keep a node bounded under floods (connections, output, time).
    public var limits = ConnectionLimits()
    public var encoderThreads = 2
    /// Event-loop threads for RESP and HTTP (the encoder has its own threads).
    public var ioThreads = 1
    /// Seconds a RESP connection may stay silent before it is closed.
    public var idleTimeout: Int64 = 300
    /// The cluster file this node was started from (nil: standalone), and its path for reloads.
    public var cluster: ClusterFile?
    public var clusterPath: String?
    /// TLS on the doors and peer links (the cluster file's `tls:` as this node sees it); nil = plaintext.
    public var tls: ClusterFile.TLS?

    public init() {}
}

/// A built node: its services (run them in one ServiceGroup) and its shared state.
public struct BuiltNode: Sendable {
    public let context: ServerContext
    public let services: [any Service]
}

/// Loads the model and builds the node's services. Nothing listens until the services run.
public func buildNode(_ options: NodeOptions, logger: Logger) async throws -> BuiltNode {
    try BindPolicy.check(options, logger: logger)
    // Before the models: a certificate that does not load should fail the start at once.
    let tls = try options.tls.map { try NodeTLS($0) }
    if let tls { logger.info("TLS on", metadata: ["tls.resp": "\(tls.settings.resp)", "tls.http": "\(tls.settings.http)",
                                                   "tls.peers": "\(tls.settings.peers.rawValue)", "tls.certificate": "\(tls.summary)"]) }
    var loaded: [(ClusterFile.Model, EmbeddingModel)] = []
    for entry in options.models {
        let model: EmbeddingModel
        do {
            model = try EmbeddingModel(directory: entry.path, threads: options.encoderThreads)
        } catch {
            throw ModelLoadError(model: entry.name, path: entry.path, reason: "\(error)")
        }
        // Only now is the model's width known: a Matryoshka width must be narrower.
        if let wide = entry.matryoshkaDims.first(where: { $0 >= model.dimension }) {
            throw ModelLoadError(model: entry.name, path: entry.path,
                                 reason: "matryoshka_dims \(wide) is not narrower than the model's \(model.dimension) dimensions")
        }
        logger.info("model loaded", metadata: [
            "model.name": "\(entry.name)", "model.shape": "\(model.config.layerCount)x\(model.config.hiddenSize) \(model.config.pooling)",
            "model.kernel": "\(model.encoder.kernelName)", "model.fingerprint": "\(model.fingerprint)",
            "model.load_s": "\(String(format: "%.3f", model.loadSeconds))",
        ])
        loaded.append((entry, model))
    }
    var router: ClusterRouter? = nil
    var reload: (@Sendable () -> Result<Void, any Error>)? = nil
    // The savings ledger outlives reloads: a reload applies the file's new prices, the accounts stay.
    let ledger = SavingsLedger()
    if let file = options.cluster {
        ledger.prices = SavingsPrices(file.savings)
        // "{node}" in the path is the node's id: nodes of one machine share a cluster file.
        if let path = file.savings.auditLog?.replacingOccurrences(of: "{node}", with: options.nodeID) {
            ledger.audit = AuditLog(path: path, maxBytes: file.savings.auditLogMaxBytes)
            if ledger.audit == nil { logger.warning("cannot write the audit log; it stays off", metadata: ["savings.audit_log": "\(path)"]) }
        }
    }
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.ioThreads))
    if let file = options.cluster {
        let r = ClusterRouter(file: file, selfID: options.nodeID, group: group, logger: logger, tls: tls)
        router = r
        if let path = options.clusterPath {
            let nodeID = options.nodeID
            reload = {
                // A bad file is refused and the old one kept; this node must still be in the new one.
                Result {
                    let next = try ClusterFile.load(path: path)
                    _ = try next.node(nodeID)
                    // TLS first: a file whose certificates do not load is refused whole.
                    try NodeTLS.reload(tls, next.tls(for: nodeID), logger: logger)
                    r.reload(next)
                    ledger.prices = SavingsPrices(next.savings)
                }
            }
        }
    }
    var lanes: [ModelLane] = []
    for (index, (entry, model)) in loaded.enumerated() {
        // Each lane has its own L1 (by default an equal share of the node's budget), TTL and Redis client
        // (whose records are this model's width).
        var configuration = options.node
        configuration.l1MaxBytes = entry.l1MaxBytes ?? options.node.l1MaxBytes / loaded.count
        if let ttl = entry.ttlSeconds { configuration.ttl = ttl }
        let l2 = try await connectL2(options, dimension: model.dimension, logger: logger)
        let laneRouter = router.map {
            LaneRouter(cluster: $0, model: index == 0 ? nil : entry.name, fingerprint: model.fingerprint.hash.hex, vectorBytes: model.vectorBytes)
        }
        let node = EmbeddingNode(model: model, configuration: configuration, l2: l2, router: laneRouter, savings: ledger)
        lanes.append(ModelLane(index: index, name: entry.name, aliases: entry.aliases, node: node,
                               queryPrefix: entry.queryPrefix, passagePrefix: entry.passagePrefix, matryoshkaDims: entry.matryoshkaDims))
    }
    router?.serve(fingerprints: lanes.map { $0.node.model.fingerprint.hash.hex })
    let context = ServerContext(models: ModelCatalog(lanes), nodeID: options.nodeID, secret: options.secret, metrics: NodeMetrics(),
                                cluster: router, reload: reload, metricsPublic: options.metricsPublic, limits: options.limits, tls: tls)
    let limits = RESPLimits(maxBulkLength: options.node.maxTextBytes, maxArguments: options.node.maxBatchTexts + 1)
    let idle = options.idleTimeout
    // Both client ports' pipelines, TLS in front of them when the cluster file says so: Shared/ClientPipelines.
    let resp = ListenerService(name: "resp", group: group, host: options.respHost, port: options.respPort, logger: logger) { channel in
        try ClientPipelines.resp(channel, server: context, limits: limits, idleTimeout: .seconds(idle), logger: logger)
    }
    let http = ListenerService(name: "http", group: group, host: options.httpHost, port: options.httpPort, logger: logger) { channel in
        try ClientPipelines.http(channel, server: context, idleTimeout: .seconds(idle), logger: logger)
    }
    let health: [any Service] = router.map { [PeerHealthService(cluster: $0, clock: ContinuousClock())] } ?? []
    return BuiltNode(context: context, services: [DrainService(nodes: lanes.map(\.node))] + health + [resp, http])
}

/// A model of the node's list that would not load: which one, where, and why.
public struct ModelLoadError: Error, CustomStringConvertible {
    public let model: String
    public let path: String
    public let reason: String
    public var description: String { "model \(self.model) (\(self.path)): \(self.reason)" }
}

/// A lane's Redis client (records of `dimension` floats), or nil without L2. A Redis that does not
/// answer at start is kept (writes wait in the queue) unless it is optional, then dropped with a warning.
func connectL2(_ options: NodeOptions, dimension: Int, logger: Logger) async throws -> RedisL2? {
    guard let redis = options.redis else { return nil }
    var configuration = RedisL2Configuration(host: redis.host, port: redis.port, db: redis.db)
    configuration.credentials = redis.credentials
    configuration.clusterSeeds = redis.clusterSeeds.map { RedisNodeAddress(host: $0.host, port: $0.port) }
    configuration.dimension = dimension
    let client = RedisL2(configuration, logger: logger)
    let deadline = Date().addingTimeInterval(0.5)
    while !client.stats.isUp && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
    if client.stats.isUp || !options.redisOptional {
        if !client.stats.isUp { logger.warning("redis not answering yet; serving from L1 and the encoder until it does") }
        return client
    }
    logger.warning("no redis at \(redis.description); running L1-only")
    await client.shutdown(deadline: 0)
    return nil
}
