import EmbModel
import Foundation
import Testing

@Suite struct SafeTensorsTests {
    /// Writes a safetensors file from a header (JSON text, or a raw length override) and data bytes.
    static func write(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-st-\(UUID()).safetensors").path
        var bytes: [UInt8] = []
        var h = Array(header.utf8)
        // Writers pad the header with spaces so the data starts 8-byte aligned, as the format advises.
        if declaredLength == nil { while h.count % 8 != 0 { h.append(UInt8(ascii: " ")) } }
        var length = (declaredLength ?? UInt64(h.count)).littleEndian
        withUnsafeBytes(of: &length) { bytes += $0 }
        bytes += h + data
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func open(_ path: String) -> SafeTensorsError? {
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensorsFile(path: path)
            return nil
        } catch let e as SafeTensorsError {
            return e
        } catch {
            return SafeTensorsError(.cannotOpen, "unexpected \(error)")
        }
    }

    let goodHeader = #"{"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "__metadata__": {"format": "pt"}}"#

    @Test func theRealModelFileLoadsAndItsTensorsAreChecked() throws {
        let file = try SafeTensorsFile(path: TestData.modelDirectory + "/model.safetensors")
        let words = try file.float32("embeddings.word_embeddings.weight", shape: [30522, 384])
        #expect(words.count == 30522 * 384)
        #expect(file.tensors.count == 104)
    }

    @Test func misalignedFloatDataIsRefused() throws {
        // 8 + 99 header bytes: the data would start at offset 107, not a multiple of 4.
        #expect(goodHeader.utf8.count == 99)
        let e = Self.open(try Self.write(header: goodHeader, data: [UInt8](repeating: 0, count: 16), declaredLength: 99))
        #expect(e?.code == .badTensor)
        #expect(e?.tensor == "a")
    }

    @Test func aWellFormedSmallFileReadsBack() throws {
        let values: [Float] = [1, 2, 3, 4]
        let path = try Self.write(header: goodHeader, data: values.withUnsafeBytes { Array($0) })
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(Array(try file.float32("a", shape: [2, 2])) == values)
    }

    @Test func truncatedDataIsRefusedNamingTheTensor() throws {
        let e = Self.open(try Self.write(header: goodHeader, data: [UInt8](repeating: 0, count: 8)))
        #expect(e?.code == .truncated)
        #expect(e?.tensor == "a")
    }

    @Test func aHeaderLongerThanTheFileIsRefused() throws {
        #expect(Self.open(try Self.write(header: goodHeader, declaredLength: 1 << 20))?.code == .truncated)
    }

    @Test func aHeaderOverTheLimitIsRefused() throws {
        #expect(Self.open(try Self.write(header: goodHeader, declaredLength: 17 << 20))?.code == .headerTooLarge)
    }

    @Test func aBadJSONHeaderIsRefused() throws {
        #expect(Self.open(try Self.write(header: "{not json", data: []))?.code == .badHeader)
        #expect(Self.open(try Self.write(header: "[1, 2]", data: []))?.code == .badHeader)
    }

    @Test func anUnknownDTypeIsRefusedNamingTheTensor() throws {
        let e = Self.open(try Self.write(header: #"{"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}"#, data: [0]))
        #expect(e?.code == .badTensor)
        #expect(e?.tensor == "w")
    }

    @Test func badShapesAndOffsetsAreRefused() throws {
        let headers = [
            #"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
            #"{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#,
            #"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#,
            #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#,
            #"{"w": {"dtype": "F32", "shape": [1]}}"#,
            #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "v": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
            #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}"#,
        ]
        for header in headers {
            let e = Self.open(try Self.write(header: header, data: [UInt8](repeating: 0, count: 8)))
            #expect(e?.code == .badTensor, "header \(header)")
        }
        let past = Self.open(try Self.write(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: [0, 0, 0, 0]))
        #expect(past?.code == .truncated)
    }

    @Test func askingForAMissingTensorOrTheWrongKindNamesIt() throws {
        let path = try Self.write(header: goodHeader, data: [UInt8](repeating: 0, count: 16))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(throws: SafeTensorsError.self) { try file.float32("b", shape: [2, 2]) }
        for (name, shape, code) in [("b", [2, 2], SafeTensorsError.Code.missingTensor), ("a", [4], .wrongShape)] {
            do {
                _ = try file.float32(name, shape: shape)
            } catch let e as SafeTensorsError {
                #expect(e.code == code)
                #expect(e.tensor == name)
            }
        }
        let ints = try Self.write(header: #"{"i": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8))
        defer { try? FileManager.default.removeItem(atPath: ints) }
        do {
            _ = try SafeTensorsFile(path: ints).float32("i", shape: [1])
            Issue.record("read I64 as F32")
        } catch let e as SafeTensorsError {
            #expect(e.code == .wrongDType)
        }
    }

    @Test func emptyShortAndMissingFilesAreRefused() throws {
        #expect(Self.open(try Self.write(header: "", declaredLength: 0).replacingOccurrences(of: "", with: ""))?.code == .badHeader)
        let short = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-short-\(UUID())").path
        FileManager.default.createFile(atPath: short, contents: Data([1, 2, 3]))
        #expect(Self.open(short)?.code == .truncated)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-empty-\(UUID())").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(Self.open(empty)?.code == .truncated)
        #expect(Self.open("/nonexistent/model.safetensors")?.code == .cannotOpen)
    }

    @Test func aWrongModelFileIsRefusedWithTheTensorName() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-model-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in ["vocab.txt", "config.json"] {
            try FileManager.default.copyItem(atPath: TestData.modelDirectory + "/" + f, toPath: dir + "/" + f)
        }
        let path = try Self.write(header: goodHeader, data: [UInt8](repeating: 0, count: 16))
        try FileManager.default.moveItem(atPath: path, toPath: dir + "/model.safetensors")
        do {
            _ = try EmbeddingModel(directory: dir)
            Issue.record("loaded a file without BERT weights")
        } catch let e as ModelError {
            #expect(e.code == .unsupportedModel)
            #expect(e.message.contains("embeddings.word_embeddings.weight"))
        }
    }
}
