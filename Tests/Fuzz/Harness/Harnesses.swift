// The fuzz harnesses: each takes any bytes and must return without crashing, hanging or breaking the
// property it checks (a failed `check` is a crash, so libFuzzer keeps the input). Built two ways
// (Harness.swift): instrumented for libFuzzer by Scripts/fuzz, and plain, as a replayer of the kept
// corpora that Scripts/test runs, so every input that once crashed stays a regression test.
import EmbCluster
import EmbModel
import EmbRESP
import EmbRedis
import EmbServer
import EmbTokenizer
import Foundation
import NIOCore

/// Stops the process with `message` when `condition` is false: libFuzzer records the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz property broken: \(message())") }
}

enum Harness: String, CaseIterable {
    case resp, http, cluster, safetensors, l2record, tokenizer

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .resp: Self.resp(bytes)
        case .http: Self.http(bytes)
        case .cluster: _ = try? ClusterFile.parse(String(decoding: bytes, as: UTF8.self))
        case .safetensors: Self.safetensors(bytes)
        case .l2record: Self.l2record(bytes)
        case .tokenizer: Self.tokenizer(bytes)
        }
    }

    /// RESPParser over the bytes until it wants more or refuses them; and RESPFastFrame, which may only
    /// accept what the parser accepts, with the same argument and length.
    static func resp(_ bytes: UnsafeRawBufferPointer) {
        if let fast = RESPFastFrame.twoArguments(bytes, upperName: "EMBED", maxArgument: 64 << 10) {
            var parser = RESPParser()
            var buffer = ByteBuffer(bytes: bytes)
            let frame = try? parser.next(&buffer)
            guard case .command(let command)? = frame else {
                return check(false, "the fast frame took \(Array(bytes.prefix(64))) that the parser gives \(String(describing: frame))")
            }
            check(command.arguments.count == 2 && Array(command.arguments[1].readableBytesView) == Array(bytes[fast.argument]),
                  "fast frame and parser disagree on the argument")
            check(bytes.count - buffer.readableBytes == fast.length, "fast frame and parser disagree on the length")
        }
        var parser = RESPParser()
        var buffer = ByteBuffer(bytes: bytes)
        for _ in 0..<10_000 {  // every frame consumes at least one byte, so this bounds the loop
            let before = buffer.readableBytes
            guard (try? parser.next(&buffer)) != nil else { return }  // needs more, or refused the stream
            check(buffer.readableBytes < before, "a frame that consumed nothing")
        }
    }

    /// An embeddings body: refused, or a request that survives a round trip through JSON unchanged.
    static func http(_ bytes: UnsafeRawBufferPointer) {
        guard case .success(let request) = EmbeddingsRequest.parse(Array(bytes)) else { return }
        check(!request.texts.isEmpty, "an accepted request without texts")
        var object: [String: Any] = ["input": request.texts, "encoding_format": request.base64 ? "base64" : "float"]
        if let model = request.model { object["model"] = model }
        if let user = request.user { object["user"] = user }
        if let kind = request.inputType { object["input_type"] = kind }
        if let dims = request.dimensions { object["dimensions"] = dims }
        guard let again = try? JSONSerialization.data(withJSONObject: object) else {
            return check(false, "an accepted request that cannot be written back as JSON")
        }
        check(EmbeddingsRequest.parse(Array(again)) == .success(request), "the request changes in a JSON round trip")
    }

    static func safetensors(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8, let tensors = try? SafeTensorsFile.validate(bytes, path: "fuzz") else { return }
        for info in tensors.values {
            check(info.byteRange.lowerBound >= 8 && info.byteRange.upperBound <= bytes.count, "tensor \(info.name) outside the file")
        }
    }

    static func l2record(_ bytes: UnsafeRawBufferPointer) {
        for dim in [1, 384] {
            guard let record = L2Record.decode(bytes, expectedDim: dim) else { continue }
            check(record.encode() == Array(bytes), "decode then encode is not the identity")
        }
    }

    /// Any bytes: ids within the vocabulary, [CLS] first, [SEP] last, at most 256; nil exactly for
    /// invalid UTF-8.
    /// The uncased tokenizer and the cased one (a cased model's), same properties.
    static func tokenizer(_ bytes: UnsafeRawBufferPointer) {
        for tokenizer in [Vocab.tokenizer, Vocab.casedTokenizer] {
            guard let tokenizer else { return }
            let ids = tokenizer.encode(utf8: bytes, maxTokens: 256)
            let valid = String(validating: bytes, as: UTF8.self) != nil
            check((ids != nil) == valid, "UTF-8 validity \(valid) but ids \(ids == nil ? "nil" : "present")")
            guard let ids else { return }
            check(ids.count >= 2 && ids.count <= 256, "\(ids.count) ids")
            check(ids.first == 101 && ids.last == 102, "not [CLS] … [SEP]")
            check(ids.allSatisfy { $0 >= 0 && $0 < 30_522 }, "an id outside the vocabulary")
        }
    }
}

/// The model's vocabulary, read once (Scripts/fetch-model puts it in models/; EMB_VOCAB overrides).
enum Vocab {
    static let tokenizer: BertTokenizer? = {
        let path = ProcessInfo.processInfo.environment["EMB_VOCAB"] ?? "models/all-MiniLM-L6-v2/vocab.txt"
        return try? BertTokenizer(vocabularyFile: path)
    }()
    static let casedTokenizer: BertTokenizer? = {
        let path = ProcessInfo.processInfo.environment["EMB_VOCAB"] ?? "models/all-MiniLM-L6-v2/vocab.txt"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? BertTokenizer(vocabularyText: $0, lowercase: false) }
    }()
}
