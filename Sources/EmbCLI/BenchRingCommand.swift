// `embcache bench ring`: nanoseconds per owner lookup (the one the hit path makes for every key of a
// cluster node) at several points-per-node counts, so raising the default can be weighed against it.
// The anchor, in the same run: a plain binary search over all the points (the ring's lookup before
// it had a bucket table). One thread, keys from a fixed seed, median of 5 rounds.
// With --id-sets N it also sweeps balance: for N random sets of n+1 node ids, how often the last
// node's share (what moves to it when it joins) is within ±10% of 1/(n+1), per points-per-node count.
import ArgumentParser
import EmbHash
import EmbRing
import Foundation

struct BenchRingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ring", abstract: "Ring lookup cost: ns per owner lookup.")

    @Option(help: "Comma-separated node counts.") var nodes = "3,10"
    @Option(help: "Comma-separated points per node.") var vnodes = "160,\(HashRing.defaultVnodes)"
    @Option(help: "Lookups per round.") var lookups = 2_000_000
    @Option(help: "Random id sets for the add-a-node balance sweep (0: no sweep).") var idSets = 0

    func run() throws {
        var g = SplitMix64(seed: 7)
        let keys = (0..<4096).map { _ in g.next() }
        for n in self.nodes.split(separator: ",").compactMap({ Int($0) }) {
            for v in self.vnodes.split(separator: ",").compactMap({ Int($0) }) {
                let ring = HashRing(nodes: (1...n).map { RingNode(id: "n\($0)") }, vnodes: v)
                let points = ring.points
                let hashes = points.map(\.hash), owners = points.map(\.node)
                let plain = Self.time(keys, self.lookups) { owners[Self.lowerBound(hashes, $0) % hashes.count] }
                let bucketed = Self.time(keys, self.lookups) { ring.owner(of: $0)! }
                print("ring nodes=\(n) vnodes=\(v) points=\(points.count) ns_per_lookup=\(String(format: "%.1f", bucketed)) plain_binary_search_ns=\(String(format: "%.1f", plain))")
                if self.idSets > 0 { Self.sweep(nodes: n, vnodes: v, sets: self.idSets) }
            }
        }
    }

    /// The share a node joining `nodes` others takes, over random 8-character ids.
    static func sweep(nodes: Int, vnodes: Int, sets: Int) {
        var g = SplitMix64(seed: UInt64(nodes * 7919 + vnodes))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var within = 0
        var shares: [Double] = []
        for _ in 0..<sets {
            let ids = (0...nodes).map { _ in String((0..<8).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }) }
            let share = HashRing(nodes: ids.map { RingNode(id: $0) }, vnodes: vnodes).shares[ids[nodes]]!
            shares.append(share)
            if abs(share * Double(nodes + 1) - 1) <= 0.10 { within += 1 }
        }
        let mean = shares.reduce(0, +) / Double(sets)
        let sd = (shares.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sets)).squareRoot()
        print("sweep nodes=\(nodes)->\(nodes + 1) vnodes=\(vnodes) id_sets=\(sets) within_10pct=\(within) (\(String(format: "%.1f", 100 * Double(within) / Double(sets)))%) share_mean=\(String(format: "%.4f", mean)) share_sd=\(String(format: "%.4f", sd))")
    }

    static func lowerBound(_ hashes: [UInt64], _ position: UInt64) -> Int {
        var lo = 0, hi = hashes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if hashes[mid] < position { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func time(_ keys: [UInt64], _ n: Int, _ lookup: (UInt64) -> String) -> Double {
        var sink = 0
        var rounds: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<n { sink &+= lookup(keys[i & 4095]).utf8.count }
            rounds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n))
        }
        if sink == 42 { print("") }  // keeps the work observable
        return rounds.sorted()[2]
    }
}
