// A node's savings as its servers show them: this node's snapshot (RESP `SAVINGS`, GET /savings,
// /metrics, INFO), and the dashboard's view of the whole cluster: this node's snapshot and every up
// peer's, asked with `SAVINGS` over the one peer link to each (the one forwards use, AUTH and TLS
// included), at once. A peer that does not answer in time is listed as unreachable; the page still renders.
import EmbNode
import EmbRESP
import Foundation
import NIOCore

extension ServerContext {
    /// This node's snapshot now.
    public func savingsSnapshot() -> SavingsSnapshot {
        // The ledger is the node's (one for every lane); the encoder and health figures are the
        // default lane's, so the snapshot names that lane's model.
        let lane = self.models.defaultLane
        let node = lane.node
        let now = node.now()
        let accounts = node.savings.all
        var callers: [SavingsSnapshot.Caller] = []
        var perSecond = [PerTier](repeating: PerTier(), count: 60)
        var perMinute = [PerTier](repeating: PerTier(), count: 60)
        for account in accounts {
            let w = account.snapshot
            callers.append(.init(name: account.name, windows: Dictionary(uniqueKeysWithValues: SavingsWindow.allCases.map { ($0.rawValue, w.window($0, now: now)) })))
            guard account.name != SavingsLedger.peersName else { continue }
            for (i, t) in w.perSecond(now: now).enumerated() { perSecond[i].add(t.texts) }
            for (i, t) in w.perMinute(now: now).enumerated() { perMinute[i].add(t.texts) }
        }
        let b = node.batcherStats
        let l1 = node.l1.stats
        let cluster = self.cluster?.summary
        let sample = node.savings.overlap.export()
        return SavingsSnapshot(
            node: self.nodeID, model: lane.name, time: now, prices: node.savings.prices,
            encoder: .init(seconds: b.seconds, tokens: b.tokens, texts: b.texts, threads: node.model.encoder.threads, secondsPerToken: node.secondsPerToken),
            health: .init(l2Enabled: node.l2 != nil, l2Up: node.l2?.stats.isUp ?? false, l1Entries: l1.entries, l1Bytes: l1.bytes,
                          peersUp: cluster?.up ?? 0, peersDown: cluster?.down ?? 0,
                          peerModelMismatch: cluster?.modelMismatches ?? 0, encoderQueue: node.batcher.depth,
                          uptimeSeconds: Date().timeIntervalSince(self.startedAt)),
            callers: callers, perSecond: perSecond, perMinute: perMinute,
            overlap: .init(level: sample.level, capacity: node.savings.overlap.capacity, callers: accounts.map(\.name),
                           entries: sample.entries.map { [$0.hash, $0.mask] + $0.seen.map(UInt64.init) }))
    }
}

extension ServerContext {
    /// Every node's snapshot, added up.
    public func clusterSavings() async -> ClusterSavings {
        let mine = self.savingsSnapshot()
        guard let cluster = self.cluster else { return ClusterSavings([mine]) }
        let peers = cluster.nodes.filter { $0.id != self.nodeID }
        let answers = await withTaskGroup(of: (String, SavingsSnapshot?).self) { group in
            for p in peers {
                group.addTask {
                    guard p.up, case .bulkString(let bytes?)? = await cluster.call(["SAVINGS"], at: p.id) else {
                        return (p.id, nil)
                    }
                    return (p.id, try? SavingsSnapshot.decode(Array(bytes.readableBytesView)))
                }
            }
            var all: [(String, SavingsSnapshot?)] = []
            for await a in group { all.append(a) }
            return all
        }
        let snapshots = [mine] + answers.compactMap(\.1).sorted { $0.node < $1.node }
        return ClusterSavings(snapshots, unreachable: answers.filter { $0.1 == nil }.map(\.0).sorted())
    }
}
