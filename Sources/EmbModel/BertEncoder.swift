// The BERT encoder of a BERT-family sentence model: embeddings, N transformer layers, then the model's
// pooling (cls, mean or max) and optional L2 norm. all-MiniLM-L6-v2 is 6 layers × 384, mean, normalized.
// Two precisions share this code: `.int8` (the product: int8 weights and activations, float
// LayerNorm/softmax/GELU; see Linear.swift and Docs/kernel.md) and `.float32` (the plain reference
// pass, kept as the test oracle).
//
// A batch is run without padding: the tokens of all texts are stacked into one (rows, hidden) matrix for
// the dense layers, and attention runs per text. Every row-wise step depends only on its own row, so
// a text's vector is the same whatever batch it was computed in (bit for bit, on one machine).
import CEmbKernels
import Foundation
import Synchronization

/// Token ids in, unit vectors out.
public final class BertEncoder: Sendable {
    /// Which arithmetic the dense layers use.
    public enum Precision: String, Sendable {
        /// int8 weights and activations (the served path).
        case int8
        /// float32 everywhere (the reference pass).
        case float32
    }

    /// The model's shape.
    public let config: BertConfig
    /// The arithmetic of the dense layers.
    public let precision: Precision
    /// The int8 kernel path in use ("avx512-vnni", "avx2", "scalar"), or "float32".
    public let kernelName: String
    /// Threads one forward pass uses.
    public let threads: Int
    /// The int8 kernel path (for `.float32`, the best path of this CPU: what measurePeak runs).
    let kernelPath: embk_path

    let embeddings: Embeddings
    let layers: [TransformerLayer]
    /// MPNet's relative position bias; nil for BERT.
    let relativeBias: RelativePositionBias?
    /// The forward passes' buffers; its lock also makes this encoder's pool steps one at a time (the
    /// pool runs one step at once: `embed` and `measurePeak` both take it, see withPoolToItself).
    private let workspaces: Mutex<Workspaces>
    let pool: WorkerPool
    /// A pool of the calling thread alone: what a sub-batch's passes run on (BertEncoder+SubBatches).
    let callerOnly = WorkerPool(threads: 1)

    /// Loads the weights of `files` and prepares them for `precision`. For `.int8`, each tensor's pages
    /// are released as soon as it is quantized, so the float32 file never sits in memory whole.
    public init(files: ModelFiles, config: BertConfig, precision: Precision = .int8, threads: Int = 2,
                kernelPath: embk_path = embk_best_path()) throws {
        let weights = try ModelWeights(path: files.weights)
        func linear(_ prefix: String, outputs: Int, inputs: Int) throws -> any LinearLayer {
            let w = try weights.float32(prefix + ".weight", shape: [outputs, inputs])
            let b = try weights.float32(prefix + ".bias", shape: [outputs])
            defer { weights.releasePages(of: prefix + ".weight") }
            switch precision {
            case .int8: return Int8Linear(weight: w, bias: b, outputs: outputs, inputs: inputs, path: kernelPath)
            case .float32: return Float32Linear(weight: w, bias: b, outputs: outputs, inputs: inputs)
            }
        }
        do {
            self.embeddings = try Embeddings(weights, config: config, precision: precision)
            let h = config.hiddenSize
            let names = LayerNames(config.architecture)
            self.layers = try (0..<config.layerCount).map { l in
                let p = "encoder.layer.\(l)."
                return TransformerLayer(
                    qkv: try Self.fusedQKV(weights, prefix: p + names.attention, parts: names.qkv, hidden: h, precision: precision, path: kernelPath),
                    attentionOutput: try linear(p + names.attentionOutput, outputs: h, inputs: h),
                    attentionNorm: try LayerNormWeights(weights, p + names.attentionNorm, width: h),
                    intermediate: try linear(p + "intermediate.dense", outputs: config.intermediateSize, inputs: h),
                    output: try linear(p + "output.dense", outputs: h, inputs: config.intermediateSize),
                    outputNorm: try LayerNormWeights(weights, p + "output.LayerNorm", width: h)
                )
            }
            self.relativeBias = config.architecture == .mpnet ? try RelativePositionBias(weights, config: config) : nil
        } catch let error as SafeTensorsError {
            throw ModelError(.badWeights, "\(files.weights): \(error.message)")
        }
        self.config = config
        self.precision = precision
        self.kernelName = precision == .int8 ? String(cString: embk_path_name(kernelPath)) : "float32"
        self.kernelPath = kernelPath
        self.threads = max(1, threads)
        self.pool = WorkerPool(threads: self.threads)
        self.workspaces = Mutex(Workspaces(whole: Workspace(), parts: (0..<self.threads).map { _ in Workspace() }))
    }

    /// Query, key and value projections fused into one (3·hidden, hidden) layer: one GEMM instead of three.
    private static func fusedQKV(_ weights: ModelWeights, prefix: String, parts: [String], hidden h: Int, precision: Precision,
                                 path: embk_path) throws -> any LinearLayer {
        var w: [Float] = []
        var b: [Float] = []
        for part in parts {
            w += try weights.float32(prefix + part + ".weight", shape: [h, h])
            b += try weights.float32(prefix + part + ".bias", shape: [h])
            weights.releasePages(of: prefix + part + ".weight")
        }
        return w.withUnsafeBufferPointer { w in
            b.withUnsafeBufferPointer { b -> any LinearLayer in
                switch precision {
                case .int8: return Int8Linear(weight: w, bias: b, outputs: 3 * h, inputs: h, path: path)
                case .float32: return Float32Linear(weight: w, bias: b, outputs: 3 * h, inputs: h)
                }
            }
        }
    }

    /// Token rows of one forward pass at most (a longer batch runs in several passes).
    public static let maxRowsPerPass = 1024

    /// Bytes of one thread's share of a pass's widest buffer (its FFN activations, rows ×
    /// intermediate floats) that keep it in the core's own L2 (1-2 MiB on the x86 server cores of
    /// 2020-2024; 1 MiB on issue 19's AMD host).
    public static let threadPassBytes = 1 << 20

    /// Token rows of one thread's share of a pass: as many as keep its FFN activations within
    /// `threadPassBytes` (170 rows at width 1536, 85 at 3072; at least 64, so a huge FFN's pass still
    /// has a few row tiles per weight strip; a longer text gets a pass of its own). A thread then
    /// finds every element-wise step's rows in its L2; in passes of 512 rows per thread (until issue
    /// 19's fourth session) those steps streamed 3 MB per layer through L3. Paired runs, MiniLM long
    /// texts batch 32: sub-batches +7.8% (8 pairs), `--threads 1` +4.6% (6 pairs); short texts and 768x12 even.
    public var threadPassRows: Int {
        max(64, min(Self.maxRowsPerPass / self.threads,
                    Self.threadPassBytes / (self.config.intermediateSize * MemoryLayout<Float>.stride)))
    }

    /// Runs `body` while no forward pass runs. The pool takes one step at a time, and the workspace's
    /// lock is what serializes its users: anything else that runs steps on the pool (the peak loop)
    /// must hold it too, or two callers' steps interleave and a worker runs a finished step's body.
    func withPoolToItself(_ body: () -> Void) {
        self.workspaces.withLock { _ in body() }
    }

    /// The vectors of a batch of token-id sequences (each as the tokenizer made it: [CLS] … [SEP],
    /// at most `config.maxTokens` ids). Calls are serialized; a batch uses `threads` threads.
    public func embed(_ batch: [[Int32]]) -> [[Float]] {
        guard !batch.isEmpty else { return [] }
        for ids in batch {
            precondition(!ids.isEmpty && ids.count <= self.config.maxTokens, "token sequence of \(ids.count) ids")
        }
        return self.workspaces.withLock { workspaces in
            if let deal = self.subBatches(of: batch) {
                return self.embed(batch, inParts: deal, workspaces: workspaces.parts)
            }
            // A pass over the whole pool splits its rows over the threads: each thread's share L2-sized.
            return self.passes(batch, rowsPerPass: min(Self.maxRowsPerPass, self.threads * self.threadPassRows), workspace: workspaces.whole,
                               runner: ParallelRunner(pool: self.pool))
        }
    }

    /// The vectors of `batch`, in forward passes of at most `rowsPerPass` token rows (a text longer
    /// than that gets a pass of its own): the workspace (≈ 17 KB per token row at width 384) stays
    /// small, and GEMMs of ~1000 rows already run at full speed.
    func passes(_ batch: [[Int32]], rowsPerPass: Int, workspace: Workspace, runner: ParallelRunner) -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(batch.count)
        var start = 0
        while start < batch.count {
            var end = start
            var rows = 0
            while end < batch.count && (end == start || rows + batch[end].count <= rowsPerPass) {
                rows += batch[end].count
                end += 1
            }
            vectors += self.forward(Array(batch[start..<end]), workspace: workspace, runner: runner)
            start = end
        }
        return vectors
    }
}

/// An encoder's forward-pass buffers: `whole` for a pass run on the whole pool, and one per thread
/// for the sub-batches that run side by side (one per thread, BertEncoder+SubBatches).
struct Workspaces {
    let whole: Workspace
    let parts: [Workspace]
}

/// A layer's tensor names under `encoder.layer.N.`: BERT's, or MPNet's (`attention.attn.q/k/v/o`,
/// `attention.LayerNorm`); the feed-forward names are the same.
struct LayerNames {
    let attention: String
    let qkv: [String]
    let attentionOutput: String
    let attentionNorm: String

    init(_ architecture: BertConfig.Architecture) {
        switch architecture {
        case .bert: (attention, qkv, attentionOutput, attentionNorm) = ("attention.self.", ["query", "key", "value"], "attention.output.dense", "attention.output.LayerNorm")
        case .mpnet: (attention, qkv, attentionOutput, attentionNorm) = ("attention.attn.", ["q", "k", "v"], "attention.attn.o", "attention.LayerNorm")
        }
    }
}

/// The weights of one transformer layer.
struct TransformerLayer: Sendable {
    let qkv: any LinearLayer
    let attentionOutput: any LinearLayer
    let attentionNorm: LayerNormWeights
    let intermediate: any LinearLayer
    let output: any LinearLayer
    let outputNorm: LayerNormWeights
}

/// LayerNorm's gain and bias.
struct LayerNormWeights: Sendable {
    let gamma: [Float]
    let beta: [Float]

    init(_ weights: ModelWeights, _ prefix: String, width: Int) throws {
        self.gamma = Array(try weights.float32(prefix + ".weight", shape: [width]))
        self.beta = Array(try weights.float32(prefix + ".bias", shape: [width]))
    }
}
