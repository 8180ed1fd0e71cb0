// Consistent hashing with virtual nodes (Karger et al. 1997; the layout of groupcache's
// consistenthash): each node puts round(vnodes × weight) points on a 64-bit circle at
// XXH3-64("<node id>#<i>"), and a key belongs to the node of the first point at or after the key's
// position (its cache key's first 64 bits), wrapping around. Adding a node moves only the keys that
// now fall before its points; removing one moves only its own keys. A well-mixed hash keeps the
// shares even (groupcache's CRC32 drifts 13–17% from even over 10 peers; see Docs/benchmarks.md).
import EmbHash

/// A member of the ring.
public struct RingNode: Sendable, Hashable {
    /// The node id ("n1").
    public var id: String
    /// Relative capacity: scales its number of points.
    public var weight: Double

    public init(id: String, weight: Double = 1) {
        self.id = id
        self.weight = weight
    }
}

/// An immutable ring; build a new one when membership changes.
public struct HashRing: Sendable {
    /// Points sorted by hash (ties by node id), so lookups are a binary search.
    private let hashes: [UInt64]
    private let owners: [Int32]
    /// Node ids, in the order given.
    public let nodeIDs: [String]

    /// Places `round(vnodes × weight)` points per node, hashed with `hash` (XXH3-64 by default).
    public init(nodes: [RingNode], vnodes: Int = 160, hash: (String) -> UInt64 = { XXH3.hash64($0) }) {
        var points: [(UInt64, Int32)] = []
        for (n, node) in nodes.enumerated() {
            // Int(Double) would trap on inf/NaN with no word of why; say it (EmbCluster refuses these).
            precondition(node.weight.isFinite && node.weight >= 0, "ring node \(node.id): weight \(node.weight) is not a finite number >= 0")
            let count = max(0, Int((Double(vnodes) * node.weight).rounded()))
            for i in 0..<count { points.append((hash("\(node.id)#\(i)"), Int32(n))) }
        }
        points.sort { a, b in a.0 != b.0 ? a.0 < b.0 : nodes[Int(a.1)].id < nodes[Int(b.1)].id }
        self.hashes = points.map(\.0)
        self.owners = points.map(\.1)
        self.nodeIDs = nodes.map(\.id)
    }

    /// The owner of a key at `position`, or nil for an empty ring.
    public func owner(of position: UInt64) -> String? {
        self.owner(of: position) { _ in true }
    }

    /// The owner among the nodes `isUp` accepts: the first accepted point clockwise from `position`.
    public func owner(of position: UInt64, isUp: (String) -> Bool) -> String? {
        guard !self.hashes.isEmpty else { return nil }
        var lo = 0
        var hi = self.hashes.count
        while lo < hi {  // first point with hash >= position
            let mid = (lo + hi) / 2
            if self.hashes[mid] < position { lo = mid + 1 } else { hi = mid }
        }
        var checked = Set<Int32>()
        for step in 0..<self.hashes.count {
            let owner = self.owners[(lo + step) % self.hashes.count]
            if checked.contains(owner) { continue }
            if isUp(self.nodeIDs[Int(owner)]) { return self.nodeIDs[Int(owner)] }
            checked.insert(owner)
            if checked.count == self.nodeIDs.count { return nil }
        }
        return nil
    }

    /// Every point, sorted: for CLUSTER RING and clients that route themselves.
    public var points: [(hash: UInt64, node: String)] {
        zip(self.hashes, self.owners).map { ($0, self.nodeIDs[Int($1)]) }
    }
}
