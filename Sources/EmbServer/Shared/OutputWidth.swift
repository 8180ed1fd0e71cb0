// The width of the vectors a request asked for: OpenAI's `dimensions` over HTTP, `DIMENSIONS n` over
// RESP. A Matryoshka-trained model (Kusupati et al., "Matryoshka Representation Learning", 2022; the
// cluster file's `matryoshka_dims`) packs its meaning into the leading floats, so its first n floats,
// renormalized when the model's vectors are unit length, are the n-wide embedding — what
// sentence-transformers' `truncate_dim` and OpenAI's text-embedding-3 give. The cache keeps the full
// vector, so one entry serves every width. Any other model, or a width the file does not list, is
// refused: silently answering 384 floats to a caller that asked for 128 breaks its vector store later,
// far from the cause.

/// A width narrower than the model's, to cut each vector to; nil means "the full vector".
public struct OutputWidth: Sendable, Equatable {
    public init(dims: Int, renormalize: Bool) {
        (self.dims, self.renormalize) = (dims, renormalize)
    }

    /// Floats per vector in the reply.
    public let dims: Int
    /// Whether the cut vector is scaled back to unit length (the model's own vectors are).
    public let renormalize: Bool

    /// Why a requested width is refused (a 400 naming `dimensions`, or a RESP error).
    public struct Refusal: Error, Equatable, Sendable {
        public let message: String
    }

    /// The cut `requested` asks of `lane`: nil for none (no request, or the full width), the cut, or why not.
    public static func resolve(_ requested: Int?, lane: ModelLane) -> Result<OutputWidth?, Refusal> {
        Self.resolve(requested, model: lane.name, full: lane.node.vectorBytes / 4, matryoshka: lane.matryoshkaDims, normalizes: lane.normalizes)
    }

    /// The same, from the model's facts: its name, full width, Matryoshka widths and whether it normalizes.
    public static func resolve(_ requested: Int?, model: String, full: Int, matryoshka: [Int], normalizes: Bool) -> Result<OutputWidth?, Refusal> {
        guard let requested else { return .success(nil) }
        if requested == full { return .success(nil) }
        guard matryoshka.contains(requested) else {
            let widths = ([full] + matryoshka).map(String.init).joined(separator: ", ")
            let why = matryoshka.isEmpty ? "it is not marked as Matryoshka-trained (matryoshka_dims in the cluster file)" : "that width is not in its matryoshka_dims"
            return .failure(Refusal(message: "model '\(model)' cannot give \(requested) dimensions: \(why); it serves dimensions \(widths)"))
        }
        return .success(OutputWidth(dims: requested, renormalize: normalizes))
    }

    /// The first `dims` floats of `vector` (float32 little-endian, as stored), renormalized if asked.
    public func cut(_ vector: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(vector.count >= self.dims * 4, "a vector narrower than the width it is cut to")
        var floats = (0..<self.dims).map { Float(bitPattern: vector.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
        if self.renormalize {
            // Sum in Double: 768 squares of float32 lose digits a float sum would keep wrong.
            let norm = floats.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            if norm > 0 { floats = floats.map { Float(Double($0) / norm) } }
        }
        var out = [UInt8](repeating: 0, count: self.dims * 4)
        out.withUnsafeMutableBytes { raw in
            for (i, f) in floats.enumerated() { raw.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return out
    }
}
