// A served model as one value: files, fingerprint, tokenizer and encoder, loaded together.
// This is what `embcache embed` and a node's model lanes hold. Any BERT-family sentence model loads
// (BertConfig, Pooling and TokenizerSettings say which); all-MiniLM-L6-v2 is the default.
import CEmbKernels
import EmbHash
import EmbTokenizer
import Foundation

/// A loaded model: text → token ids → vector.
public final class EmbeddingModel: Sendable {
    /// Width of all-MiniLM-L6-v2's vectors (the default model's).
    public static let defaultDimension = 384
    /// Width of this model's vectors.
    public var dimension: Int { self.config.hiddenSize }
    /// Bytes of one vector on the wire and in the caches (float32 little-endian).
    public var vectorBytes: Int { self.config.hiddenSize * 4 }

    /// Where it was loaded from.
    public let files: ModelFiles
    /// The model's shape.
    public let config: BertConfig
    /// The tokenizer.
    public let tokenizer: BertTokenizer
    /// The encoder.
    public let encoder: BertEncoder
    /// Identifies model files and kernel scheme together (the cache keys' namespace).
    public let fingerprint: ModelFingerprint
    /// Seconds spent loading (read, quantize, pack).
    public let loadSeconds: Double

    /// Loads the model in `directory`. Throws ModelError/TokenizerError with a message saying what to fix.
    public init(directory: String, precision: BertEncoder.Precision = .int8, threads: Int = 2) throws {
        let start = DispatchTime.now()
        self.files = try ModelFiles(directory: directory)
        let keys = try ModelKeys(directory: directory, scheme: precision == .int8 ? Int8Scheme.id : "float32:v1")
        (self.config, self.tokenizer, self.fingerprint) = (keys.config, keys.tokenizer, keys.fingerprint)
        self.encoder = try BertEncoder(files: self.files, config: self.config, precision: precision, threads: threads)
        self.loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// The token ids the encoder sees for `text` (truncated to the model's maximum).
    public func tokenize(_ text: String) -> [Int32] {
        self.tokenizer.encode(text, maxTokens: self.config.maxTokens)
    }

    /// Vectors for texts, in order.
    public func embed(_ texts: [String]) -> [[Float]] {
        self.encoder.embed(texts.map(self.tokenize))
    }
}
