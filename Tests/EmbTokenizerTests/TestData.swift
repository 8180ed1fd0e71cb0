// Locates the model and the reference data (Tests/Fixtures/encoder, see its README) from this file's path, so tests run from any
// working directory. A missing model fails the test with the command that fetches it.
import Foundation

enum TestData {
    /// The package root (this file is Tests/EmbTokenizerTests/TestData.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let vocabulary = root + "/models/all-MiniLM-L6-v2/vocab.txt"
    static let reference = root + "/Tests/Fixtures/encoder/reference.public.jsonl"
    static let hardCases = root + "/Tests/EmbTokenizerTests/Fixtures/hard_cases.jsonl"
    /// Texts Scripts/fuzz found where truncation gave more than 256 ids, with Hugging Face's ids.
    static let fuzzFound = root + "/Tests/EmbTokenizerTests/Fixtures/fuzz_found.jsonl"
    static let shortWorkload = root + "/Scripts/workloads/short.texts.jsonl"

    struct Case: Decodable {
        var text: String
        var input_ids: [Int32]
    }

    /// The lines of a JSONL file of {"text", "input_ids", ...}.
    static func cases(_ path: String) throws -> [Case] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MissingFile(path: path)
        }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Case.self, from: Data($0)) }
    }

    struct MissingFile: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) not found (run Scripts/fetch-model for the model; the reference data is in Tests/Fixtures/encoder)" }
    }
}
