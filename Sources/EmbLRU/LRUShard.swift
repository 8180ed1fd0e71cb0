// One shard of the L1: a fixed-capacity slab of values, an open-addressing index, and an intrusive
// doubly linked recency list, all in flat arrays (structure of arrays) so an entry costs its value plus
// ~45 bytes, and nothing is allocated after start. Callers hold the shard's lock (EmbeddingLRU does).
//
// Index: linear probing over a power-of-two table of slot numbers (-1 = empty), 1.5-3x the capacity,
// with backward-shift deletion (Knuth vol. 3, 6.4, Algorithm R), so there are no tombstones and lookups
// stay short however many inserts and evictions pass.
import EmbHash

/// Owns its slab exclusively; EmbeddingLRU only touches it under the shard's lock.
struct LRUShard: @unchecked Sendable {
    let capacity: Int
    let valueBytes: Int
    private let values: UnsafeMutableRawPointer  // capacity × valueBytes
    private var keys: [LRUKey]
    private var expiresAt: [Double]
    private var deltas: [Float]
    private var refreshing: [Bool]
    private var prev: [Int32]  // toward the most recent
    private var next: [Int32]  // toward the least recent
    private var index: [Int32]
    private let indexMask: Int
    private var head: Int32 = -1  // most recently used
    private var tail: Int32 = -1  // least recently used
    private var freeList: [Int32]
    private(set) var count = 0
    var random: SplitMix64

    /// Bytes this layout spends per entry beyond the value (for the byte budget and the docs).
    static func overheadPerEntry(indexSlotsPerEntry: Double) -> Int {
        let perEntry = MemoryLayout<LRUKey>.stride + MemoryLayout<Double>.stride + MemoryLayout<Float>.stride
            + MemoryLayout<Bool>.stride + 2 * MemoryLayout<Int32>.stride + MemoryLayout<Int32>.stride  // + free list
        return perEntry + Int((indexSlotsPerEntry * Double(MemoryLayout<Int32>.stride)).rounded(.up))
    }

    init(capacity: Int, valueBytes: Int, seed: UInt64) {
        self.capacity = max(1, capacity)
        self.valueBytes = valueBytes
        self.values = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * valueBytes, alignment: 64)
        self.keys = Array(repeating: LRUKey(high: 0, low: 0), count: self.capacity)
        self.expiresAt = Array(repeating: 0, count: self.capacity)
        self.deltas = Array(repeating: 0, count: self.capacity)
        self.refreshing = Array(repeating: false, count: self.capacity)
        self.prev = Array(repeating: -1, count: self.capacity)
        self.next = Array(repeating: -1, count: self.capacity)
        var size = 1
        while size < self.capacity * 3 / 2 { size <<= 1 }
        self.index = Array(repeating: -1, count: size)
        self.indexMask = size - 1
        self.freeList = (0..<Int32(self.capacity)).reversed()
        self.random = SplitMix64(seed: seed)
    }

    func deallocate() {
        self.values.deallocate()
    }

    /// Index position of `key`, or of the empty slot where it would go.
    private func probe(_ key: LRUKey) -> (position: Int, found: Bool) {
        var i = Int(truncatingIfNeeded: key.low) & self.indexMask
        while true {
            let slot = self.index[i]
            if slot < 0 { return (i, false) }
            if self.keys[Int(slot)] == key { return (i, true) }
            i = (i + 1) & self.indexMask
        }
    }

    func slot(of key: LRUKey) -> Int32? {
        let (i, found) = self.probe(key)
        return found ? self.index[i] : nil
    }

    func value(_ slot: Int32) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: self.values + Int(slot) * self.valueBytes, count: self.valueBytes)
    }

    func expiry(_ slot: Int32) -> Double { self.expiresAt[Int(slot)] }
    func delta(_ slot: Int32) -> Double { Double(self.deltas[Int(slot)]) }
    func isRefreshing(_ slot: Int32) -> Bool { self.refreshing[Int(slot)] }
    mutating func setRefreshing(_ slot: Int32, _ on: Bool) { self.refreshing[Int(slot)] = on }

    /// Moves `slot` to the front of the recency list.
    mutating func touch(_ slot: Int32) {
        guard self.head != slot else { return }
        self.unlink(slot)
        self.pushFront(slot)
    }

    /// Inserts or replaces; returns true when the least recently used entry was evicted to make room.
    mutating func insert(_ key: LRUKey, _ value: UnsafeRawBufferPointer, expiresAt: Double, delta: Double) -> Bool {
        var evicted = false
        let slot: Int32
        if let existing = self.slot(of: key) {
            slot = existing
            self.unlink(slot)
        } else {
            if self.freeList.isEmpty {
                _ = self.remove(self.keys[Int(self.tail)])
                evicted = true
            }
            slot = self.freeList.removeLast()
            self.keys[Int(slot)] = key
            let (i, _) = self.probe(key)
            self.index[i] = slot
            self.count += 1
        }
        self.values.advanced(by: Int(slot) * self.valueBytes).copyMemory(from: value.baseAddress!, byteCount: self.valueBytes)
        self.expiresAt[Int(slot)] = expiresAt
        self.deltas[Int(slot)] = Float(delta)
        self.refreshing[Int(slot)] = false
        self.pushFront(slot)
        return evicted
    }

    /// Removes `key`; false if absent.
    mutating func remove(_ key: LRUKey) -> Bool {
        let (start, found) = self.probe(key)
        guard found else { return false }
        var i = start
        let slot = self.index[i]
        self.unlink(slot)
        self.freeList.append(slot)
        self.count -= 1
        // Backward-shift deletion: pull later members of the probe run into the hole.
        var j = i
        while true {
            j = (j + 1) & self.indexMask
            let s = self.index[j]
            if s < 0 { break }
            let home = Int(truncatingIfNeeded: self.keys[Int(s)].low) & self.indexMask
            // Move s into the hole at i unless its home lies cyclically in (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                self.index[i] = s
                i = j
            }
        }
        self.index[i] = -1
        return true
    }

    mutating func removeAll() {
        while self.tail >= 0 { _ = self.remove(self.keys[Int(self.tail)]) }
    }

    private mutating func unlink(_ slot: Int32) {
        let p = self.prev[Int(slot)]
        let n = self.next[Int(slot)]
        if p >= 0 { self.next[Int(p)] = n } else if self.head == slot { self.head = n }
        if n >= 0 { self.prev[Int(n)] = p } else if self.tail == slot { self.tail = p }
        self.prev[Int(slot)] = -1
        self.next[Int(slot)] = -1
    }

    private mutating func pushFront(_ slot: Int32) {
        self.prev[Int(slot)] = -1
        self.next[Int(slot)] = self.head
        if self.head >= 0 { self.prev[Int(self.head)] = slot }
        self.head = slot
        if self.tail < 0 { self.tail = slot }
    }
}
