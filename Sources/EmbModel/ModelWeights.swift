// The weights of a BERT checkpoint as the encoder reads them: float32 views whatever the stored dtype,
// under whichever name prefix the saver used. sentence-transformers saves `embeddings.…`, a checkpoint
// of BertForMaskedLM & co. saves `bert.embeddings.…`; many models ship F16 or BF16 tensors. F32 tensors
// are read in place from the mapped file; F16/BF16 ones are widened into a buffer that lives until
// `releasePages(of:)` says the tensor was consumed (quantized or copied), so only one is held at a time.
import Foundation

/// Float32 access to a checkpoint's tensors, by their BertModel names.
final class ModelWeights {
    let file: SafeTensorsFile
    /// Prepended to every BertModel name ("" or "bert.").
    let prefix: String
    private var widened: [String: UnsafeMutableBufferPointer<Float>] = [:]

    /// The name prefixes a BERT checkpoint is saved under, in the order they are tried.
    static let knownPrefixes = ["", "bert.", "model.", "mpnet."]

    init(path: String) throws {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(path: path)
        } catch let error as SafeTensorsError {
            throw ModelError(.badWeights, "\(path): \(error.message)")
        }
        guard let prefix = Self.knownPrefixes.first(where: { file.tensors[$0 + "embeddings.word_embeddings.weight"] != nil }) else {
            let sample = file.tensors.keys.sorted().prefix(3).joined(separator: ", ")
            throw ModelError(.unsupportedModel, "\(path) has no BERT word embeddings (embeddings.word_embeddings.weight, "
                             + "optionally under \"bert.\"); its tensors start \(sample): not a BERT checkpoint")
        }
        self.file = file
        self.prefix = prefix
    }

    deinit {
        for buffer in self.widened.values { buffer.deallocate() }
    }

    /// The tensor `name` (a BertModel name, without prefix) as float32, checked to have exactly `shape`.
    func float32(_ name: String, shape: [Int]) throws -> UnsafeBufferPointer<Float> {
        let stored = self.prefix + name
        if let buffer = self.widened[stored] { return UnsafeBufferPointer(buffer) }
        guard let info = self.file.tensors[stored], info.dtype == .f16 || info.dtype == .bf16 else {
            return try self.file.float32(stored, shape: shape)
        }
        guard info.shape == shape else {
            throw SafeTensorsError(.wrongShape, tensor: stored, "tensor \(stored) has shape \(info.shape), expected \(shape)")
        }
        let count = info.byteRange.count / 2
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        self.file.withUnsafeBytes { bytes in
            let halves = UnsafeRawBufferPointer(rebasing: bytes[info.byteRange])
            for i in 0..<count {
                let bits = halves.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                buffer[i] = info.dtype == .f16 ? Float(Float16(bitPattern: bits)) : Float(bitPattern: UInt32(bits) << 16)
            }
        }
        self.widened[stored] = buffer
        return UnsafeBufferPointer(buffer)
    }

    /// Says `name` has been consumed: its mapped pages are released, or its widened copy freed.
    func releasePages(of name: String) {
        let stored = self.prefix + name
        if let buffer = self.widened.removeValue(forKey: stored) { buffer.deallocate() }
        self.file.releasePages(of: stored)
    }
}
