// all-mpnet-base-v2 with its real weights (Scripts/fetch-model all-mpnet-base-v2) against its
// sentence-transformers reference (Tests/Fixtures/encoder/reference.mpnet.public.jsonl, the 420 public
// texts): token ids exact, the float32 pass to float precision, int8 within the product's bar. Also
// the pieces MPNet adds (relative position buckets, added tokens) and one refusal per MPNet setting
// the loader does not implement.
import EmbModel
import EmbTokenizer
import Foundation
import Testing

enum MPNetData {
    static let directory = TestData.root + "/models/all-mpnet-base-v2"
    static let reference = TestData.root + "/Tests/Fixtures/encoder/reference.mpnet.public.jsonl"

    /// A folder whose small files are copies of all-mpnet-base-v2's (to edit) and whose weights are a link.
    static func copy() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-mpnet-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/1_Pooling", withIntermediateDirectories: true)
        for file in ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "modules.json",
                     "sentence_bert_config.json", "1_Pooling/config.json"] {
            try FileManager.default.copyItem(atPath: directory + "/" + file, toPath: dir + "/" + file)
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: directory + "/model.safetensors")
        return dir
    }
}

@Suite(.serialized) struct MPNetTests {
    static let int8 = Result { try EmbeddingModel(directory: MPNetData.directory, precision: .int8) }

    @Test func idsAndInt8VectorsMatchSentenceTransformers() throws {
        let model = try Self.int8.get()
        let refs = try FamilyData.references(MPNetData.reference)
        #expect(refs.count == 420 && model.dimension == 768 && model.config.maxTokens == 384)
        let ids = refs.map { model.tokenize($0.text) }
        let exact = zip(ids, refs).filter { $0 == $1.input_ids }.count
        #expect(exact == refs.count, "token ids exact for \(exact) of \(refs.count) texts")
        var cosines: [Double] = []
        for start in stride(from: 0, to: refs.count, by: 32) {
            let chunk = start..<min(start + 32, refs.count)
            for (vector, ref) in zip(model.encoder.embed(Array(ids[chunk])), refs[chunk]) {
                cosines.append(TestData.cosine(vector, ref.embedding))
                #expect(abs(TestData.norm(vector) - 1) <= Thresholds.normTolerance)
            }
        }
        let minimum = cosines.min()!, mean = cosines.reduce(0, +) / Double(cosines.count)
        print("all-mpnet-base-v2 int8: ids exact \(exact)/\(refs.count); min cosine \(minimum), mean \(mean) over \(refs.count) texts")
        #expect(minimum >= Thresholds.minCosine, "min cosine \(minimum)")
        #expect(mean >= Thresholds.meanCosine, "mean cosine \(mean)")
    }

    @Test func float32PassReproducesSentenceTransformers() throws {
        let model = try EmbeddingModel(directory: MPNetData.directory, precision: .float32)
        // Every 5th text (84), which includes ones past the 384-token truncation.
        let refs = try FamilyData.references(MPNetData.reference).enumerated().filter { $0.offset % 5 == 0 }.map(\.element)
        var worst: Float = 0
        for start in stride(from: 0, to: refs.count, by: 16) {
            let chunk = Array(refs[start..<min(start + 16, refs.count)])
            for (vector, ref) in zip(model.encoder.embed(chunk.map(\.input_ids)), chunk) {
                worst = max(worst, zip(vector, ref.embedding).map { abs($0 - $1) }.max()!)
            }
        }
        print("all-mpnet-base-v2 fp32: max abs error \(worst) over \(refs.count) texts")
        #expect(worst <= ModelFamilyTests.float32Tolerance, "fp32 max abs error \(worst)")
    }

    @Test func aTextsVectorDoesNotDependOnItsBatch() throws {
        let model = try Self.int8.get()
        let refs = Array(try FamilyData.references(MPNetData.reference).prefix(12))
        let batched = model.encoder.embed(refs.map(\.input_ids))
        #expect(refs.map { model.encoder.embed([$0.input_ids])[0] } == batched)
    }

    /// Hugging Face's relative_position_bucket (its change points, printed from transformers' code for
    /// j − i = ±0…511): 8 exact distances, then log-spaced buckets up to 128, keys after the query in 16…31.
    @Test func relativePositionBucketsAreHuggingFaces() {
        let after = [(0, 0), (1, 17), (2, 18), (3, 19), (4, 20), (5, 21), (6, 22), (7, 23), (8, 24), (12, 25), (16, 26),
                     (23, 27), (32, 28), (46, 29), (64, 30), (91, 31)]
        let before = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (12, 9), (16, 10), (23, 11),
                      (32, 12), (46, 13), (64, 14), (91, 15)]
        for (changes, sign) in [(after, 1), (before, -1)] {
            var expected = 0
            for distance in 0..<512 {
                if let change = changes.first(where: { $0.0 == distance }) { expected = change.1 }
                #expect(RelativePositionBias.bucket(query: 600, key: 600 + sign * distance) == expected, "j − i = \(sign * distance)")
            }
        }
    }

    @Test func addedTokensMatchAsHuggingFacesDo() throws {
        let tokenizer = try ModelKeys.tokenizer(directory: MPNetData.directory)
        // ids printed by Hugging Face's tokenizers from the folder's tokenizer.json.
        #expect(tokenizer.encode("") == [0, 2])
        // "<s>", "</s>", "<pad>", "<mask>" and "[UNK]" are matched in the raw text; "<unk>" (normalized:
        // true) in the normalized text, so "<UNK>" and "<u\u{301}nk>" are it too; "[CLS]" is no added token here.
        #expect(tokenizer.encode("a<s>b</s>") == [0, 1041, 0, 1042, 2, 2])
        #expect(tokenizer.encode("<UNK> <unk> <u\u{301}nk> <Unk") == [0, 3, 3, 3, 1030, 4899, 2247, 2])
        #expect(tokenizer.encode("[CLS]") == [0, 1035, 18860, 2019, 1037, 2])
        #expect(tokenizer.encode("x <mask>y <pad> z") == [0, 1064, 30526, 1065, 1, 1066, 2])
        #expect(tokenizer.encode("Ünk<UNK>") == [0, 4899, 2247, 3, 2])
        #expect(tokenizer.encode("<unk\u{a0}>") == [0, 1030, 4899, 2247, 1032, 2])
    }

    /// Each edit of the real folder must be refused at load, with a message naming what is unsupported.
    static let refusals: [(String, String)] = [
        ("relative_attention_num_buckets", "relative_attention_num_buckets 64"),
        ("pad_token_id", "pad_token_id 0"),
        ("type_vocab_size", "type_vocab_size 2 is not supported for MPNet"),
        ("architectures", "architecture MPNetForQuestionAnswering"),
        ("single_word", "single_word added token"),
        ("normalized", "normalized added token \"<UNK2>\""),
        ("no tokenizer.json", "tokenizer_class MPNetTokenizer without a tokenizer.json"),
    ]

    @Test(arguments: 0..<Self.refusals.count) func theLoaderRefusesWhatItDoesNotImplement(_ index: Int) throws {
        let (change, expected) = Self.refusals[index]
        let dir = try MPNetData.copy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/config.json", tokenizer = dir + "/tokenizer.json"
        func addedToken(_ edit: @escaping (inout [String: Any]) -> Void) throws {
            try FamilyData.edit(tokenizer) { json in
                var tokens = json["added_tokens"] as! [[String: Any]]
                edit(&tokens[3])
                json["added_tokens"] = tokens
            }
        }
        switch change {
        case "relative_attention_num_buckets": try FamilyData.edit(config) { $0[change] = 64 }
        case "pad_token_id": try FamilyData.edit(config) { $0[change] = 0 }
        case "type_vocab_size": try FamilyData.edit(config) { $0[change] = 2 }
        case "architectures": try FamilyData.edit(config) { $0[change] = ["MPNetForQuestionAnswering"] }
        case "single_word": try addedToken { $0["single_word"] = true }
        case "normalized": try addedToken { $0["content"] = "<UNK2>" }
        case "no tokenizer.json": try FileManager.default.removeItem(atPath: tokenizer)
        default: Issue.record("no edit for \(change)")
        }
        do {
            _ = try BertConfig.load(directory: dir)
            _ = try ModelKeys.tokenizer(directory: dir)
            Issue.record("\(change): loaded")
        } catch let error as ModelError {
            #expect(error.code == .unsupportedModel, "\(change): \(error)")
            #expect(error.message.contains(expected), "\(change): \(error.message)")
        }
    }

    @Test func theFingerprintIsStable() throws {
        let dir = try MPNetData.copy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.int8.get()
        #expect(try ModelFiles(directory: dir).fingerprint(scheme: Int8Scheme.id) == model.fingerprint)
    }
}
