// The dashboard's view of the whole cluster: this node's snapshot and every up peer's, asked with
// `SAVINGS` over the peers' RESP connections (the same ones forwards use, AUTH included), at once.
// A peer that does not answer in time is listed as unreachable; the page still renders.
import EmbNode
import EmbRESP
import NIOCore
import Foundation

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
