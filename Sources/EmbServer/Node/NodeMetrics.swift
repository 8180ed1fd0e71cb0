// The node's metrics, created once with fixed labels (one funnel, as RediStack's RedisMetrics does),
// exported in Prometheus text format on GET /metrics and summarized by INFO.
import EmbNode
import EmbRedis
import Foundation
import Prometheus
import Synchronization

/// Counters and histograms of a node.
public final class NodeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let requests = Mutex<[String: Counter]>([:])
    private let results = Mutex<[String: Counter]>([:])
    private let latency = Mutex<[String: DurationHistogram]>([:])
    private let callers = Mutex<[String: Counter]>([:])
    static let buckets: [Duration] = [.microseconds(50), .microseconds(200), .milliseconds(1), .milliseconds(5), .milliseconds(20),
                                      .milliseconds(100), .milliseconds(500), .seconds(2)]

    public init() {}

    /// The counter of requests on `interface` ("resp" | "http") for `command` (handles are cached by callers).
    func requestCounter(_ interface: String, _ command: String) -> Counter {
        let key = interface + "|" + command
        return self.requests.withLock { m in
            if let c = m[key] { return c }
            let c = self.registry.makeCounter(name: "embcache_requests_total", labels: [("interface", interface), ("command", command)])
            m[key] = c
            return c
        }
    }

    /// The counter of requests from `caller` (a bounded label, see ServerContext.callerLabel).
    func callerCounter(_ caller: String) -> Counter {
        self.callers.withLock { m in
            if let c = m[caller] { return c }
            let c = self.registry.makeCounter(name: "embcache_caller_requests_total", labels: [("caller", caller)])
            m[caller] = c
            return c
        }
    }

    /// Texts answered by `tier`.
    func tierCounter(_ tier: Tier) -> Counter {
        self.results.withLock { m in
            if let c = m[tier.rawValue] { return c }
            let c = self.registry.makeCounter(name: "embcache_results_total", labels: [("tier", tier.rawValue)])
            m[tier.rawValue] = c
            return c
        }
    }

    /// Request latency of requests answered by `tier` (L1 hits are sampled, see RESPConnectionHandler).
    func latency(_ tier: Tier) -> DurationHistogram {
        self.latency.withLock { m in
            if let h = m[tier.rawValue] { return h }
            let h = self.registry.makeDurationHistogram(name: "embcache_request_seconds", labels: [("tier", tier.rawValue)], buckets: Self.buckets)
            m[tier.rawValue] = h
            return h
        }
    }

    /// One request on `interface` for `command`, from `caller`.
    func request(_ interface: String, _ command: String, caller: String) {
        self.requestCounter(interface, command).increment()
        self.callerCounter(caller).increment()
    }

    /// `n` texts answered by `tier`, the request having taken `seconds`.
    func answered(_ tier: Tier, count n: Int, seconds: Double) {
        self.tierCounter(tier).increment(by: Int64(n))
        self.latency(tier).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// Everything GET /metrics shows: the registry, the gauges, and the savings counters.
    func export(_ server: ServerContext) -> String {
        self.export(node: server.models.defaultLane.node, cluster: server.cluster) + Self.modelGauges(server.models) + Self.tlsGauges(server.tls)
            + SavingsMetrics.render(server.savingsSnapshot())
    }

    /// Per-model gauges, labelled `model="name"` (the unlabelled L1/encoder gauges are the default model's).
    static func modelGauges(_ models: ModelCatalog) -> String {
        let families: [(String, String, (EmbeddingNode) -> Double)] = [
            ("embcache_model_weight_bytes", "Bytes of the model's weights as served (int8 packed).", { Double($0.model.encoder.weightBytes) }),
            ("embcache_model_dimension", "Width of the model's vectors.", { Double($0.model.dimension) }),
            ("embcache_model_l1_entries", "Entries in the model's L1.", { Double($0.l1.stats.entries) }),
            ("embcache_model_l1_bytes", "Bytes in the model's L1.", { Double($0.l1.stats.bytes) }),
            ("embcache_model_encoder_texts_total", "Texts the model's encoder computed.", { Double($0.batcherStats.texts) }),
            ("embcache_model_encoder_tokens_total", "Tokens the model's encoder read.", { Double($0.batcherStats.tokens) }),
            ("embcache_model_encoder_seconds_total", "Seconds the model's encoder ran.", { $0.batcherStats.seconds }),
        ]
        var text = ""
        for (name, help, value) in families {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for lane in models.lanes { text += "\(name){model=\"\(lane.name)\"} \(value(lane.node))\n" }
        }
        text += "# HELP embcache_model_served_total Answers by model and tier.\n# TYPE embcache_model_served_total counter\n"
        for lane in models.lanes {
            let tiers = lane.node.tiers
            for tier in Tier.allCases { text += "embcache_model_served_total{model=\"\(lane.name)\",tier=\"\(tier.rawValue)\"} \(tiers[tier, default: 0])\n" }
        }
        return text
    }

    /// Gauges read at scrape time from the node's own counters.
    func export(node: EmbeddingNode, cluster: ClusterRouter? = nil) -> String {
        var out: [UInt8] = []
        self.registry.emit(into: &out)
        var text = String(decoding: out, as: UTF8.self)
        let l1 = node.l1.stats
        let batcher = node.batcherStats
        var gauges: [(String, String, Double)] = [
            ("embcache_l1_entries", "", Double(l1.entries)), ("embcache_l1_bytes", "", Double(l1.bytes)),
            ("embcache_l1_capacity_entries", "", Double(l1.capacity)), ("embcache_l1_evictions_total", "", Double(l1.evictions)),
            ("embcache_l1_expirations_total", "", Double(l1.expirations)), ("embcache_l1_early_refreshes_total", "", Double(l1.earlyRefreshes)),
            ("embcache_encoder_batches_total", "", Double(batcher.batches)), ("embcache_encoder_texts_total", "", Double(batcher.texts)),
            ("embcache_encoder_tokens_total", "", Double(batcher.tokens)), ("embcache_encoder_seconds_total", "", batcher.seconds),
            ("embcache_encoder_queue_depth", "", Double(node.batcher.depth)),
        ]
        if let l2 = node.l2?.stats {
            gauges += [
                ("embcache_l2_up", "", l2.isUp ? 1 : 0), ("embcache_l2_hits_total", "", Double(l2.hits)),
                ("embcache_l2_misses_total", "", Double(l2.misses)), ("embcache_l2_errors_total", "", Double(l2.errors)),
                ("embcache_l2_undecodable_total", "", Double(l2.undecodable)), ("embcache_l2_write_queue_depth", "", Double(l2.queueDepth)),
                ("embcache_l2_writes_total", "", Double(l2.writesDone)), ("embcache_l2_writes_dropped_total", "", Double(l2.writesDropped)),
            ]
        }
        if let slots = node.l2?.slotRouter?.stats {
            gauges += [
                ("embcache_l2_slot_map_age_seconds", "", slots.mapAge ?? -1), ("embcache_l2_slot_map_refreshes_total", "", Double(slots.refreshes)),
                ("embcache_l2_redirects_total", "{kind=\"moved\"}", Double(slots.moved)), ("embcache_l2_redirects_total", "{kind=\"ask\"}", Double(slots.ask)),
            ]
            gauges += slots.shards.map { ("embcache_l2_shard_errors_total", "{shard=\"\($0.node)\"}", Double($0.errors)) }
        }
        if let cluster = cluster {
            let c = cluster.summary
            gauges += [
                ("embcache_cluster_peers_up", "", Double(c.up)), ("embcache_cluster_peers_down", "", Double(c.down)),
                ("embcache_cluster_forwards_total", "", Double(c.forwards)), ("embcache_cluster_forward_failures_total", "", Double(c.failures)),
                ("embcache_cluster_peer_model_mismatch_total", "", Double(c.modelMismatches)),
                ("embcache_cluster_peer_handshakes_refused_total", "", Double(c.refusals)),
                ("embcache_hot_cache_entries", "", Double(node.hotCacheStats.entries)),
            ]
        }
        var typed = Set<String>()  // one TYPE line per name, however many label sets follow it
        for (name, labels, value) in gauges {
            if typed.insert(name).inserted { text += "# TYPE \(name) gauge\n" }
            text += "\(name)\(labels) \(value)\n"
        }
        return text
    }
}

extension EmbeddingNode {
    /// The batcher's counters.
    public var batcherStats: (batches: Int, texts: Int, tokens: Int, seconds: Double) { self.batcher.stats }
}
