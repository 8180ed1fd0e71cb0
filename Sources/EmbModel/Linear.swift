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
    /// Bytes of the layer's weights as its GEMM reads them (packed int8 with scales, or float32):
    /// what one pass streams from memory when the rows are few and the weights are not in cache.
    var weightBytes: Int { get }
    /// y (rows, ldy) = f(x) (rows, ldx) · Wᵀ + b, f = `input` (GELU for FFN2, whose input is FFN1's output).
    /// With `.gelu` the layer may overwrite x's rows with GELU(x) (the float32 layer does; the int8 one
    /// reads x and quantizes GELU(x) in the same pass).
    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner)
    /// The same for the rows `part` only, on the calling thread (rows of x and y are indexed from 0,
    /// as above). Threads may run disjoint parts at once: each touches only its rows of the workspace.
    func forward(_ x: UnsafePointer<Float>, part: Range<Int>, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace)
}

/// What a dense layer applies to its input rows before multiplying.
enum LinearInput: Sendable {
    /// The rows as they are.
    case identity
    /// BERT's exact GELU (embk_gelu).
    case gelu
}

extension LinearLayer {
    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner) {
        self.forward(x, rows: rows, ldx: ldx, input: .identity, into: y, ldy: ldy, workspace: workspace, runner: runner)
    }

    func forward(_ x: UnsafePointer<Float>, part: Range<Int>, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace) {
        self.forward(x, part: part, ldx: ldx, input: .identity, into: y, ldy: ldy, workspace: workspace)
    }
}

/// The quantization scheme of the int8 path. Part of the model fingerprint: changing it changes keys.
public enum Int8Scheme {
    /// Inputs per quantization group, for weights and activations alike (Docs/kernel.md: 128 reaches
    /// min cosine 0.9980 on the reference texts where per-row scales reach 0.9857; 64 reached 0.9986
    /// but its per-group epilogue cost the GEMM 8-12%: scheme v1, until issue 19).
    public static let group = 128
    /// Names the scheme in fingerprints and INFO. v3 (issue 19): attention on integers too (Q, K int8
    /// per row and head; probabilities 15-bit; V int8 per column: embk_attention_q8).
    public static let id = "int8:w-sym-ch-g128:a-u8-asym-row-g128:attn-s8qk-p15-s8v:emb-int8-row:v3"
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

    var weightBytes: Int { embk_packed_size(Int32(self.outputs), Int32(self.inputs), Int32(Int8Scheme.group)) }

    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner) {
        let (q, scales, zeroPoints, ldq) = self.quantizationBuffers(rows: rows, workspace: workspace)
        runner.forRanges(rows) { r in self.quantize(x, rows: r, ldx: ldx, input: input, q, ldq, scales, zeroPoints) }
        // Columns split in whole panels: each thread reads all activations and its half of the weights.
        let panels = (self.outputs + Int(EMBK_PANEL) - 1) / Int(EMBK_PANEL)
        runner.forRanges(panels) { p in
            self.gemm(rows: 0..<rows, q, ldq, scales, zeroPoints, into: y, ldy: ldy,
                      columns: p.lowerBound * Int(EMBK_PANEL)..<min(p.upperBound * Int(EMBK_PANEL), self.outputs))
        }
    }

    func forward(_ x: UnsafePointer<Float>, part: Range<Int>, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace) {
        guard !part.isEmpty else { return }
        // Each part quantizes into its own region of the shared buffers, at the widest layer's row
        // stride: another thread may be at another layer (another width) at the same time.
        let ldq = (self.inputs + 3) / 4 * 4
        let stride = workspace.partStride
        precondition(stride.bytes >= ldq && stride.groups >= self.groups, "Workspace.partStride not set for this layer")
        let q = workspace.quantized.pointer + part.lowerBound * stride.bytes
        let scales = workspace.scales.pointer + part.lowerBound * stride.groups
        let zeroPoints = workspace.zeroPoints.pointer + part.lowerBound * stride.groups
        let local = 0..<part.count
        self.quantize(x + part.lowerBound * ldx, rows: local, ldx: ldx, input: input, q, ldq, scales, zeroPoints)
        self.gemm(rows: local, q, ldq, scales, zeroPoints, into: y + part.lowerBound * ldy, ldy: ldy, columns: 0..<self.outputs)
    }

    private var groups: Int { (self.inputs + Int8Scheme.group - 1) / Int8Scheme.group }

    /// The workspace's quantized-activation buffers for `rows` rows.
    private func quantizationBuffers(rows: Int, workspace: Workspace)
        -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>, Int) {
        let ldq = (self.inputs + 3) / 4 * 4
        return (workspace.quantized.reserve(rows * ldq), workspace.scales.reserve(rows * self.groups),
                workspace.zeroPoints.reserve(rows * self.groups), ldq)
    }

    /// Quantizes f(x) of the rows `r`; for GELU in one pass over x (embk_gelu_quantize_rows: the bytes of
    /// embk_gelu then embk_quantize_rows, without writing GELU's floats back).
    private func quantize(_ x: UnsafePointer<Float>, rows r: Range<Int>, ldx: Int, input: LinearInput, _ q: UnsafeMutablePointer<UInt8>,
                          _ ldq: Int, _ scales: UnsafeMutablePointer<Float>, _ zeroPoints: UnsafeMutablePointer<Int32>) {
        let groups = self.groups
        let quantizeRows = switch input {
        case .identity: embk_quantize_rows
        case .gelu: embk_gelu_quantize_rows
        }
        quantizeRows(self.path, x + r.lowerBound * ldx, Int32(r.count), Int32(self.inputs), Int32(ldx), Int32(Int8Scheme.group),
                     q + r.lowerBound * ldq, Int32(ldq), scales + r.lowerBound * groups, zeroPoints + r.lowerBound * groups)
    }

    private func gemm(rows r: Range<Int>, _ q: UnsafeMutablePointer<UInt8>, _ ldq: Int, _ scales: UnsafeMutablePointer<Float>,
                      _ zeroPoints: UnsafeMutablePointer<Int32>, into y: UnsafeMutablePointer<Float>, ldy: Int, columns: Range<Int>) {
        let groups = self.groups
        self.bias.withUnsafeBufferPointer { bias in
            embk_gemm(self.path, Int32(r.count), Int32(self.outputs), Int32(self.inputs), Int32(Int8Scheme.group),
                      q + r.lowerBound * ldq, Int32(ldq), scales + r.lowerBound * groups, zeroPoints + r.lowerBound * groups,
                      self.packed, bias.baseAddress, y + r.lowerBound * ldy, Int32(ldy), Int32(columns.lowerBound), Int32(columns.upperBound))
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

    var weightBytes: Int { 4 * self.outputs * self.inputs }

    func forward(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace, runner: ParallelRunner) {
        runner.forRanges(rows) { r in self.forward(x, part: r, ldx: ldx, input: input, into: y, ldy: ldy, workspace: workspace) }
    }

    func forward(_ x: UnsafePointer<Float>, part r: Range<Int>, ldx: Int, input: LinearInput, into y: UnsafeMutablePointer<Float>, ldy: Int,
                 workspace: Workspace) {
        guard !r.isEmpty else { return }
        if input == .gelu {  // in place, as the protocol allows: the reference pass keeps the plain steps
            for i in r { embk_gelu(UnsafeMutablePointer(mutating: x + i * ldx), self.inputs) }
        }
        let out = y + r.lowerBound * ldy
        for i in 0..<r.count {
            for o in 0..<self.outputs { out[i * ldy + o] = self.bias[o] }
        }
        embk_sgemm_nn(Int32(r.count), Int32(self.outputs), Int32(self.inputs), 1, x + r.lowerBound * ldx, Int32(ldx),
                      self.transposed, Int32(self.outputs), out, Int32(ldy), 1)
    }
}
