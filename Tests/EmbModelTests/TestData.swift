// Locates the model and the reference data (Tests/Fixtures/encoder, see its README) from this file's path.
import Foundation

enum TestData {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let modelDirectory = root + "/models/all-MiniLM-L6-v2"
    static let reference = root + "/Tests/Fixtures/encoder/reference.public.jsonl"

    struct Reference: Decodable {
        var text: String
        var input_ids: [Int32]
        /// sentence-transformers' fp32 vector, stored as base64 of its float32 little-endian bytes.
        var embedding_base64: String

        var embedding: [Float] {
            let bytes = Data(base64Encoded: self.embedding_base64) ?? Data()
            return bytes.withUnsafeBytes { raw in
                (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
        }
    }

    static func references() throws -> [Reference] {
        guard let data = FileManager.default.contents(atPath: reference) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: reference])
        }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Reference.self, from: Data($0)) }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var (ab, aa, bb) = (0.0, 0.0, 0.0)
        for (x, y) in zip(a, b) {
            ab += Double(x) * Double(y)
            aa += Double(x) * Double(x)
            bb += Double(y) * Double(y)
        }
        return ab / (aa.squareRoot() * bb.squareRoot())
    }

    static func norm(_ a: [Float]) -> Double {
        a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    }
}
