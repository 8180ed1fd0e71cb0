// Dense layers y = x·Wᵀ + b, in two kinds: the int8 one the product runs (Int8Linear) and the float32
// one of the reference pass (Float32Linear), behind one protocol so both passes share the rest of
// the forward code.
import CEmbKernels

/// A dense layer over a batch of rows.
protocol LinearLayer: Sendable {
    /// Output width.
    var outputs: Int { get }
    /// Input width.
    var inputs: Int { get }
    /// y (rows, ldy) = x (rows, ldx) · Wᵀ + b.
    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner)
}

/// The quantization scheme of the int8 path. Part of the model fingerprint: changing it changes keys.
public enum Int8Scheme {
    /// Inputs per quantization group, for weights and activations alike (Docs/kernel.md: 64 reaches
    /// min cosine 0.9986 on the reference texts where per-row scales reach 0.9857).
    public static let group = 64
    /// Names the scheme in fingerprints and INFO.
    public static let id = "int8:w-sym-ch-g64:a-u8-asym-row-g64:emb-int8-row:v1"
}

/// An int8 dense layer: weights quantized and packed once at load; activations quantized per call.
final class Int8Linear: LinearLayer, @unchecked Sendable {
    let outputs: Int
    let inputs: Int
    let path: embk_path
    private let packed: UnsafeMutableRawPointer
    private let bias: [Float]

    /// Quantizes w: (outputs, inputs) row-major.
    init(weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>, outputs: Int, inputs: Int, path: embk_path) {
        precondition(weight.count == outputs * inputs && bias.count == outputs)
        self.outputs = outputs
        self.inputs = inputs
        self.path = path
        self.bias = Array(bias)
        let group = Int32(Int8Scheme.group)
        let groups = (inputs + Int8Scheme.group - 1) / Int8Scheme.group
        var q = [Int8](repeating: 0, count: outputs * inputs)
        var scales = [Float](repeating: 0, count: outputs * groups)
        embk_quantize_weights(weight.baseAddress, Int32(outputs), Int32(inputs), group, &q, &scales)
        let size = embk_packed_size(Int32(outputs), Int32(inputs), group)
        self.packed = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        embk_pack_weights(q, scales, Int32(outputs), Int32(inputs), group, self.packed)
    }

    deinit {
        self.packed.deallocate()
    }

    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner) {
        let groups = (self.inputs + Int8Scheme.group - 1) / Int8Scheme.group
        let ldq = (self.inputs + 3) / 4 * 4
        let q = workspace.quantized.reserve(rows * ldq)
        let scales = workspace.scales.reserve(rows * groups)
        let zeroPoints = workspace.zeroPoints.reserve(rows * groups)
        let (path, inputs, group) = (self.path, Int32(self.inputs), Int32(Int8Scheme.group))
        runner.forRanges(rows) { r in
            embk_quantize_rows(path, x + r.lowerBound * ldx, Int32(r.count), inputs, Int32(ldx), group,
                               q + r.lowerBound * ldq, Int32(ldq), scales + r.lowerBound * groups, zeroPoints + r.lowerBound * groups)
        }
        // Columns split in whole panels: each thread reads all activations and its half of the weights.
        let panels = (self.outputs + Int(EMBK_PANEL) - 1) / Int(EMBK_PANEL)
        self.bias.withUnsafeBufferPointer { bias in
            runner.forRanges(panels) { p in
                embk_gemm(path, Int32(rows), Int32(self.outputs), inputs, group, q, Int32(ldq), scales, zeroPoints,
                          self.packed, bias.baseAddress, y, Int32(ldy),
                          Int32(p.lowerBound * Int(EMBK_PANEL)), Int32(min(p.upperBound * Int(EMBK_PANEL), self.outputs)))
            }
        }
    }
}

/// The float32 dense layer of the reference pass (the test oracle; not used to serve).
final class Float32Linear: LinearLayer, @unchecked Sendable {
    let outputs: Int
    let inputs: Int
    /// Wᵀ: (inputs, outputs), so the GEMM streams rows of it.
    private let transposed: [Float]
    private let bias: [Float]

    init(weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>, outputs: Int, inputs: Int) {
        self.outputs = outputs
        self.inputs = inputs
        var t = [Float](repeating: 0, count: outputs * inputs)
        for o in 0..<outputs {
            for i in 0..<inputs { t[i * outputs + o] = weight[o * inputs + i] }
        }
        self.transposed = t
        self.bias = Array(bias)
    }

    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner) {
        runner.forRanges(rows) { r in
            let out = y + r.lowerBound * ldy
            for i in 0..<r.count {
                for o in 0..<self.outputs { out[i * ldy + o] = self.bias[o] }
            }
            embk_sgemm_nn(Int32(r.count), Int32(self.outputs), Int32(self.inputs), 1, x + r.lowerBound * ldx, Int32(ldx),
                          self.transposed, Int32(self.outputs), out, Int32(ldy), 1)
        }
    }
}
