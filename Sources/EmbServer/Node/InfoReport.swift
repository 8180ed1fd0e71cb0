// INFO in Redis style: "# Section" headers and "key:value" lines.
import EmbNode
import EmbRedis
import Foundation

enum InfoReport {
    /// The l1, l2, encoder and tiers sections describe the default model; `models` has one line per model.
    static let sections = ["server", "clients", "cluster", "models", "l1", "l2", "encoder", "tiers", "callers", "savings", "tls"]

    static func render(_ server: ServerContext, section: String?) -> String {
        let node = server.models.defaultLane.node  // the unlabelled figures are the default model's
        var out = ""
        func emit(_ name: String, _ pairs: [(String, Any)]) {
            guard section == nil || section == "all" || section == "everything" || section == name else { return }
            out += "# \(name.prefix(1).uppercased() + name.dropFirst())\r\n"
            for (k, v) in pairs { out += "\(k):\(v)\r\n" }
            out += "\r\n"
        }
        emit("server", [
            ("embcache_version", server.version), ("node_id", server.nodeID),
            ("uptime_in_seconds", Int(Date().timeIntervalSince(server.startedAt))), ("process_id", getpid()),
        ])
        emit("clients", [
            ("connected_clients", server.connectedClients), ("maxclients", server.limits.maxClients),
            ("rejected_connections", server.refusedConnections), ("auth_required", server.secret == nil ? 0 : 1),
            ("auth_failures", server.authThrottle.failures), ("auth_throttled_addresses", server.authThrottle.tracked),
        ])
        if let cluster = server.cluster {
            let c = cluster.summary
            emit("cluster", [
                ("cluster_enabled", 1), ("node_id", server.nodeID), ("nodes", cluster.nodes.count), ("peers_up", c.up), ("peers_down", c.down),
                ("forwards", c.forwards), ("forward_failures", c.failures), ("peers_never_seen", c.neverSeen),
                ("peer_model_mismatch", c.modelMismatches), ("peer_handshakes_refused", c.refusals),
                ("peer_protocol_version", PeerProtocol.current), ("peer_view_ready", cluster.hasPeerView ? 1 : 0), ("hot_cache_entries", node.hotCacheStats.entries),
                ("hot_cache_hits", node.tiers[.hot, default: 0]),
            ])
        } else {
            emit("cluster", [("cluster_enabled", 0), ("node_id", server.nodeID), ("nodes", 1)])
        }
        emit("models", server.models.lanes.map { lane in
            let (n, c) = (lane.node, lane.node.model.config)
            let tiers = n.tiers
            let fields: [(String, Any)] = [
                ("name", lane.name), ("dimension", c.hiddenSize), ("layers", c.layerCount), ("heads", c.headCount), ("pooling", c.pooling),
                ("max_tokens", c.maxTokens), ("fingerprint", n.model.fingerprint.hash.hex), ("weight_bytes", n.model.encoder.weightBytes),
                ("query_prefix", lane.queryPrefix == nil ? 0 : 1), ("passage_prefix", lane.passagePrefix == nil ? 0 : 1),
                ("ttl_seconds", Int(n.configuration.ttl)), ("l1_entries", n.l1.stats.entries), ("l1_bytes", n.l1.stats.bytes),
                ("l1_max_bytes", n.configuration.l1MaxBytes), ("served_l1", tiers[.l1, default: 0]), ("served_l2", tiers[.l2, default: 0]),
                ("served_computed", tiers[.computed, default: 0]), ("served_forwarded", tiers[.forwarded, default: 0]),
                ("encoder_texts", n.batcherStats.texts),
            ]
            return ("model\(lane.index)", fields.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
        } + [("models_weight_bytes", server.models.lanes.reduce(0) { $0 + $1.node.model.encoder.weightBytes })])
        let l1 = node.l1.stats
        emit("l1", [
            ("l1_entries", l1.entries), ("l1_capacity_entries", l1.capacity), ("l1_bytes", l1.bytes),
            ("l1_max_bytes", node.configuration.l1MaxBytes), ("l1_overhead_per_entry", node.l1.overheadPerEntry),
            ("l1_hits", l1.hits), ("l1_misses", l1.misses), ("l1_evictions", l1.evictions), ("l1_expirations", l1.expirations),
            ("l1_early_refreshes", l1.earlyRefreshes), ("ttl_seconds", node.configuration.ttl), ("early_expiry_beta", node.configuration.earlyExpiryBeta),
        ])
        if let l2 = node.l2 {
            let s = l2.stats
            emit("l2", [
                ("l2_enabled", 1), ("l2_up", s.isUp ? 1 : 0), ("l2_address", "\(l2.configuration.host):\(l2.configuration.port)/\(l2.configuration.db)"),
                ("l2_hits", s.hits), ("l2_misses", s.misses), ("l2_undecodable", s.undecodable), ("l2_errors", s.errors),
                ("l2_reconnects", s.reconnects), ("l2_writes", s.writesDone), ("l2_writes_dropped", s.writesDropped), ("l2_write_queue", s.queueDepth),
            ] + Self.slotRouting(l2.slotRouter))
        } else {
            emit("l2", [("l2_enabled", 0)])
        }
        let b = node.batcherStats
        emit("encoder", [
            ("model", server.models.defaultLane.name), ("fingerprint", node.model.fingerprint.hash.hex), ("kernel", node.model.encoder.kernelName),
            ("threads", node.model.encoder.threads), ("batches", b.batches), ("texts", b.texts), ("tokens", b.tokens),
            ("texts_per_batch", b.batches > 0 ? String(format: "%.2f", Double(b.texts) / Double(b.batches)) : "0"),
            ("tokens_per_second", b.seconds > 0 ? String(format: "%.0f", Double(b.tokens) / b.seconds) : "0"), ("queue_depth", node.batcher.depth),
        ])
        emit("tls", Self.tls(server.tls))
        let tiers = node.tiers
        emit("tiers", Tier.allCases.map { ("served_\($0.rawValue)", tiers[$0, default: 0]) })
        if section == nil || ["all", "everything", "callers", "savings"].contains(section!) {
            let snapshot = server.savingsSnapshot()
            emit("callers", SavingsInfo.callers(snapshot))
            emit("savings", SavingsInfo.savings(snapshot))
        }
        return out
    }

    /// The L2 lines of cluster mode: the slot map's age and coverage, redirects, and per shard
    /// (master) its slots and errors, as `l2_shard0:addr=127.0.0.1:7001,slots=5461,errors=0`.
    static func slotRouting(_ slots: SlotRouter?) -> [(String, Any)] {
        guard let slots else { return [("l2_mode", "single")] }
        let s = slots.stats
        var pairs: [(String, Any)] = [
            ("l2_mode", "cluster"), ("l2_slot_map_age_seconds", s.mapAge.map { String(format: "%.1f", $0) } ?? "-1"),
            ("l2_slots_covered", s.coveredSlots), ("l2_slot_map_refreshes", s.refreshes), ("l2_slot_map_refresh_failures", s.refreshFailures),
            ("l2_redirects_moved", s.moved), ("l2_redirects_ask", s.ask), ("l2_shards", s.shards.count),
        ]
        for (i, shard) in s.shards.enumerated() {
            pairs.append(("l2_shard\(i)", "addr=\(shard.node),slots=\(shard.slots),errors=\(shard.errors)"))
        }
        return pairs
    }
}
