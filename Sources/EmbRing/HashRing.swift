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
    /// Points per node (× weight) unless the cluster file says otherwise. A node's share of the ring is
    /// the sum of its points' arcs, a random variable whose relative spread is about 0.85/√points: at
    /// the old 160, a node joining three others took a share off 1/4 by more than 10% for 1 id set in 8.
    /// At 1024 it stays within ±10% of 1/(n+1) for 99.9% of random id sets (3 → 4 nodes, 1,000 sets;
    /// Docs/benchmarks.md), and a lookup is still one binary search of a few kB (~10 ns).
    public static let defaultVnodes = 1024


    /// Points sorted by hash (ties by node id), so lookups are a binary search.
    private let hashes: [UInt64]
    private let owners: [Int32]
    /// `bucketStart[b]` is the first point whose hash has top bits >= b (`bucketBits` of them), so a
    /// lookup searches only its bucket (about one point) instead of the whole ring: more points per
    /// node then cost a larger table (4 bytes per bucket, ≤ 256 KiB), not a longer search.
    private let bucketStart: [UInt32]
    private let bucketShift: UInt64
    /// Node ids, in the order given.
    public let nodeIDs: [String]

    /// Places `round(vnodes × weight)` points per node, hashed with `hash` (XXH3-64 by default).
    public init(nodes: [RingNode], vnodes: Int = HashRing.defaultVnodes, hash: (String) -> UInt64 = { XXH3.hash64($0) }) {
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
        // About one point per bucket: 2^ceil(log2(points)) buckets, between 16 and 65,536.
        let bits = min(16, max(4, UInt64.bitWidth - max(points.count - 1, 1).leadingZeroBitCount))
        self.bucketShift = UInt64(64 - bits)
        var starts = [UInt32](repeating: 0, count: (1 << bits) + 1)
        var i = 0
        for b in 0...(1 << bits) {
            while i < points.count && (points[i].0 >> UInt64(64 - bits)) < UInt64(b) { i += 1 }
            starts[b] = UInt32(i)
        }
        self.bucketStart = starts
    }

    /// The owner of a key at `position`, or nil for an empty ring.
    public func owner(of position: UInt64) -> String? {
        self.owner(of: position) { _ in true }
    }

    /// The owner among the nodes `isUp` accepts: the first accepted point clockwise from `position`.
    public func owner(of position: UInt64, isUp: (String) -> Bool) -> String? {
        guard !self.hashes.isEmpty else { return nil }
        let bucket = Int(position >> self.bucketShift)
        var lo = Int(self.bucketStart[bucket])
        var hi = Int(self.bucketStart[bucket + 1])
        while lo < hi {  // first point with hash >= position; every point before the bucket is smaller
            let mid = (lo + hi) / 2
            if self.hashes[mid] < position { lo = mid + 1 } else { hi = mid }
        }
        if lo == self.hashes.count { lo = 0 }
        // The common case, the first point's node is up, needs no bookkeeping.
        let first = self.owners[lo]
        if isUp(self.nodeIDs[Int(first)]) { return self.nodeIDs[Int(first)] }
        var checked: Set<Int32> = [first]
        if checked.count == self.nodeIDs.count { return nil }
        for step in 0..<self.hashes.count {
            let owner = self.owners[(lo + step) % self.hashes.count]
            if checked.contains(owner) { continue }
            if isUp(self.nodeIDs[Int(owner)]) { return self.nodeIDs[Int(owner)] }
            checked.insert(owner)
            if checked.count == self.nodeIDs.count { return nil }
        }
        return nil
    }

    /// Each node's share of the ring: the fraction of the 64-bit circle whose keys it owns (the arcs that
    /// end at its points). Exact for uniformly spread keys, which cache keys are.
    public var shares: [String: Double] {
        guard let last = self.hashes.last else { return [:] }
        var arcs = [Double](repeating: 0, count: self.nodeIDs.count)
        var previous = last
        for (hash, owner) in zip(self.hashes, self.owners) {
            arcs[Int(owner)] += Double(hash &- previous)  // wraps for the first point
            previous = hash
        }
        if self.hashes.count == 1 { arcs[Int(self.owners[0])] = 0x1p64 }
        return Dictionary(uniqueKeysWithValues: zip(self.nodeIDs, arcs.map { $0 / 0x1p64 }))
    }

    /// Every point, sorted: for CLUSTER RING and clients that route themselves.
    public var points: [(hash: UInt64, node: String)] {
        zip(self.hashes, self.owners).map { ($0, self.nodeIDs[Int($1)]) }
    }
}
