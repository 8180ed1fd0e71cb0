// The value format of an L2 entry: a small versioned header, then the vector's bytes.
//   offset 0  "EMBv"          magic
//          4  u8 version (1)
//          5  u8 dtype (0 = float32)
//          6  u16 LE dim
//          8  f64 LE createdAt   unix seconds
//         16  f32 LE delta       seconds the miss cost (for XFetch)
//         20  dim × f32 LE       the vector
// A value that fails to decode is a miss, and the node overwrites it.

/// One cached vector with its metadata.
public struct L2Record: Sendable, Equatable {
    /// Bytes before the vector.
    public static let headerBytes = 20
    static let magic: [UInt8] = Array("EMBv".utf8)
    static let version: UInt8 = 1

    /// When it was computed (unix seconds).
    public var createdAt: Double
    /// What computing it cost (seconds).
    public var delta: Float
    /// The vector, little-endian float32, as raw bytes.
    public var vector: [UInt8]

    /// A record.
    public init(createdAt: Double, delta: Float, vector: [UInt8]) {
        self.createdAt = createdAt
        self.delta = delta
        self.vector = vector
    }

    /// The stored bytes.
    public func encode() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.headerBytes + self.vector.count)
        out.append(Self.version)
        out.append(0)
        let dim = UInt16(self.vector.count / 4)
        out.append(UInt8(dim & 0xFF))
        out.append(UInt8(dim >> 8))
        withUnsafeBytes(of: self.createdAt.bitPattern.littleEndian) { out += $0 }
        withUnsafeBytes(of: self.delta.bitPattern.littleEndian) { out += $0 }
        out += self.vector
        return out
    }

    /// Decodes stored bytes; nil for anything but a well-formed record of `expectedDim` floats.
    public static func decode(_ bytes: UnsafeRawBufferPointer, expectedDim: Int) -> L2Record? {
        guard let header = Self.decodeHeader(bytes, expectedDim: expectedDim) else { return nil }
        return L2Record(createdAt: header.createdAt, delta: header.delta, vector: Array(bytes[Self.headerBytes...]))
    }

    /// The metadata of stored bytes, checked as `decode` checks them, without copying the vector
    /// (which is `bytes[headerBytes...]`): for callers that copy it straight into a reply.
    public static func decodeHeader(_ bytes: UnsafeRawBufferPointer, expectedDim: Int) -> (createdAt: Double, delta: Float)? {
        guard bytes.count == Self.headerBytes + 4 * expectedDim, bytes.starts(with: Self.magic),
            bytes[4] == Self.version, bytes[5] == 0,
            Int(bytes[6]) | Int(bytes[7]) << 8 == expectedDim
        else { return nil }
        let created = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        let delta = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
        guard created.isFinite, delta.isFinite, delta >= 0 else { return nil }
        return (created, delta)
    }
}
