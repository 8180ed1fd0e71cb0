// Scratch memory of a forward pass, kept between calls and grown on demand, so a steady stream of
// batches allocates nothing. Owned by one encoder and used under its lock.

/// A growable, 64-byte aligned buffer of `T`.
final class ScratchBuffer<T> {
    private(set) var pointer: UnsafeMutablePointer<T>
    private(set) var capacity: Int

    init() {
        self.capacity = 0
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: T.self, capacity: 0)
    }

    deinit {
        UnsafeMutableRawPointer(self.pointer).deallocate()
    }

    /// A buffer of at least `count` elements (contents undefined after growth).
    func reserve(_ count: Int) -> UnsafeMutablePointer<T> {
        if count > self.capacity {
            UnsafeMutableRawPointer(self.pointer).deallocate()
            let bytes = max(count, 1) * MemoryLayout<T>.stride
            self.pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(to: T.self, capacity: count)
            self.capacity = count
        }
        return self.pointer
    }
}

/// Every buffer one forward pass uses. Sizes are in elements; `rows` is the batch's total token count.
final class Workspace {
    let hidden = ScratchBuffer<Float>()  // (rows, hidden)   the residual stream
    let qkv = ScratchBuffer<Float>()  // (rows, 3·hidden) fused query, key, value
    let context = ScratchBuffer<Float>()  // (rows, hidden)   attention output before its dense layer
    let sublayer = ScratchBuffer<Float>()  // (rows, hidden)   a dense layer's output before add & norm
    let intermediate = ScratchBuffer<Float>()  // (rows, ffn)
    let quantized = ScratchBuffer<UInt8>()  // (rows, ffn)     activations as uint8
    let scales = ScratchBuffer<Float>()  // (rows, ffn / group)
    let zeroPoints = ScratchBuffer<Int32>()  // (rows, ffn / group)
    let positionBias = ScratchBuffer<Float>()  // MPNet: (heads, longest, longest) relative position bias
    /// Row strides (bytes, groups) of `quantized` and `scales`/`zeroPoints` when threads quantize
    /// disjoint row parts at once (LinearLayer.forward(part:)): the widest layer's, set and reserved
    /// for the whole batch by `reserveParts` before the threads start, so no part grows a buffer.
    private(set) var partStride = (bytes: 0, groups: 0)

    func reserveParts(rows: Int, widestInput: Int, group: Int) {
        self.partStride = ((widestInput + 3) / 4 * 4, (widestInput + group - 1) / group)
        _ = self.quantized.reserve(rows * self.partStride.bytes)
        _ = self.scales.reserve(rows * self.partStride.groups)
        _ = self.zeroPoints.reserve(rows * self.partStride.groups)
    }

    /// Per thread: embk_attention's scratch (a transposed key block and scores).
    var attention: [ScratchBuffer<Float>] = []

    func attentionScratch(threads: Int) -> [ScratchBuffer<Float>] {
        while self.attention.count < threads { self.attention.append(ScratchBuffer()) }
        return self.attention
    }
}
