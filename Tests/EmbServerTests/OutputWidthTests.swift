// The `dimensions` option: which widths a model gives (OutputWidth.resolve), how a vector is cut and
// renormalized (OutputWidth.cut), and RESP's option syntax (DimensionsOption).
import EmbServer
import Foundation
import NIOCore
import Testing

@Suite struct OutputWidthTests {
    static func resolve(_ n: Int?, matryoshka: [Int] = [256, 128], normalizes: Bool = true) -> Result<OutputWidth?, OutputWidth.Refusal> {
        OutputWidth.resolve(n, model: "m", full: 384, matryoshka: matryoshka, normalizes: normalizes)
    }

    @Test func noRequestAndTheFullWidthCutNothing() {
        #expect(Self.resolve(nil) == .success(nil))
        #expect(Self.resolve(384) == .success(nil))
        #expect(Self.resolve(384, matryoshka: []) == .success(nil))
    }

    @Test func aListedWidthIsServed() {
        #expect(Self.resolve(128) == .success(OutputWidth(dims: 128, renormalize: true)))
        #expect(Self.resolve(256, normalizes: false) == .success(OutputWidth(dims: 256, renormalize: false)))
    }

    @Test func anyOtherWidthIsRefusedNamingTheWidthsItServes() throws {
        guard case .failure(let r) = Self.resolve(100) else { Issue.record("100 accepted"); return }
        #expect(r.message.contains("cannot give 100") && r.message.contains("384, 256, 128"), "\(r.message)")
        guard case .failure(let plain) = Self.resolve(128, matryoshka: []) else { Issue.record("128 accepted without matryoshka_dims"); return }
        #expect(plain.message.contains("not marked as Matryoshka") && plain.message.hasSuffix("dimensions 384"), "\(plain.message)")
        guard case .failure = Self.resolve(0) else { Issue.record("0 accepted"); return }
        guard case .failure = Self.resolve(512) else { Issue.record("wider than the model accepted"); return }
    }

    static func bytes(_ floats: [Float]) -> [UInt8] {
        floats.flatMap { f in withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) } }
    }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    @Test func aCutKeepsTheLeadingFloatsAndRenormalizes() {
        let full: [Float] = [3, 4, 12, 0.5, -7]
        let cut = Self.floats(Self.bytes(full).withUnsafeBytes(OutputWidth(dims: 2, renormalize: true).cut))
        #expect(cut == [0.6, 0.8])
        let raw = Self.floats(Self.bytes(full).withUnsafeBytes(OutputWidth(dims: 3, renormalize: false).cut))
        #expect(raw == [3, 4, 12])
    }

    @Test func aRenormalizedCutOfAUnitVectorIsUnitLength() {
        var g = SystemRandomNumberGenerator()
        let v = (0..<384).map { _ in Float.random(in: -1...1, using: &g) }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let cut = Self.floats(Self.bytes(v.map { $0 / norm }).withUnsafeBytes(OutputWidth(dims: 128, renormalize: true).cut))
        #expect(cut.count == 128)
        #expect(abs(cut.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        // The same direction as the leading floats.
        #expect(abs(cut[0] / cut[1] - v[0] / v[1]) < 1e-3 * abs(v[0] / v[1]) + 1e-6)
    }

    static func args(_ words: String...) -> [ByteBuffer] { words.map { ByteBuffer(string: $0) } }

    @Test func respFormsOfTheOption() {
        #expect(DimensionsOption.parse(Self.args("EMBED", "hi", "DIMENSIONS", "128"))
                == DimensionsOption(texts: Self.args("hi"), model: nil, dims: 128, isBatch: false))
        #expect(DimensionsOption.parse(Self.args("embed", "hi", "model", "e5", "dimensions", "64"))
                == DimensionsOption(texts: Self.args("hi"), model: "e5", dims: 64, isBatch: false))
        #expect(DimensionsOption.parse(Self.args("MEMBED", "DIMENSIONS", "128", "a", "b"))
                == DimensionsOption(texts: Self.args("a", "b"), model: nil, dims: 128, isBatch: true))
        // EMBED's bad value is still the option (refused later, as width 0), never a text.
        #expect(DimensionsOption.parse(Self.args("EMBED", "hi", "DIMENSIONS", "wide"))?.dims == 0)
    }

    @Test func commandsWithoutTheOptionAreLeftAlone() {
        #expect(DimensionsOption.parse(Self.args("EMBED", "hi")) == nil)
        #expect(DimensionsOption.parse(Self.args("EMBED", "hi", "MODEL", "e5")) == nil)
        #expect(DimensionsOption.parse(Self.args("MEMBED", "a", "b", "c")) == nil)
        // "DIMENSIONS" as MEMBED's first text, not followed by a width: texts.
        #expect(DimensionsOption.parse(Self.args("MEMBED", "DIMENSIONS", "of a room", "x")) == nil)
        #expect(DimensionsOption.parse(Self.args("MEMBED", "DIMENSIONS", "128")) == nil)  // no text after it
        #expect(DimensionsOption.parse(Self.args("INVALIDATE", "a", "DIMENSIONS", "128")) == nil)
    }
}
