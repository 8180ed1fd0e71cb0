// The encoder on BERT shapes other than all-MiniLM-L6-v2: random-weight models made by
// Scripts/make-random-bert (Tests/Fixtures/random-bert/, see its README) with their sentence-transformers
// fp32 reference. Hidden 64/96/128 (96 is not a multiple of the 64-wide quantization group), 1–2
// layers, head widths 16/32/64, cls/mean/max pooling, with and without normalization, F32 and F16
// weights, a "bert."-prefixed checkpoint, sequences up to 512 tokens; and the 768-wide 12-layer shape
// when Scripts/test has built it (models/random-768x12). Also the loader's refusals.
import EmbModel
import Foundation
import Testing

enum FamilyData {
    static let fixtures = TestData.root + "/Tests/Fixtures/random-bert"
    static let tiny = ["tiny-cls", "tiny-mean-raw", "tiny-max"]
    static let large = TestData.root + "/models/random-768x12"

    static func references(_ path: String) throws -> [TestData.Reference] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(TestData.Reference.self, from: Data($0)) }
    }

    /// A copy of fixture `name` in a fresh temporary folder, for tests that edit its files.
    static func copy(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embcache-family-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: fixtures + "/" + name, toPath: dir)
        return dir
    }

    static func edit(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }
}

@Suite(.serialized) struct ModelFamilyTests {
    /// fp32 must reproduce sentence-transformers to float precision; int8 within the product's bar.
    static let float32Tolerance: Float = 1e-4

    /// `float32Texts`: how many texts (the longest first) the slow float32 pass checks; nil = all.
    func check(directory: String, references: String, float32Texts: Int? = nil) throws {
        let refs = try FamilyData.references(references)
        let fp32 = try EmbeddingModel(directory: directory, precision: .float32)
        let int8 = try EmbeddingModel(directory: directory, precision: .int8)
        let ids = refs.map { int8.tokenize($0.text) }
        #expect(ids == refs.map(\.input_ids), "token ids of \(directory)")
        var worst: Float = 0
        let checked = refs.indices.sorted { ids[$0].count > ids[$1].count }.prefix(float32Texts ?? refs.count)
        for (vector, ref) in zip(fp32.encoder.embed(checked.map { ids[$0] }), checked.map { refs[$0] }) {
            #expect(vector.count == fp32.dimension)
            worst = max(worst, zip(vector, ref.embedding).map { abs($0 - $1) }.max()!)
        }
        #expect(worst <= Self.float32Tolerance, "fp32 max abs error \(worst) on \(directory)")
        let cosines = zip(int8.encoder.embed(ids), refs).map { TestData.cosine($0, $1.embedding) }
        #expect(cosines.min()! >= Thresholds.minCosine, "int8 min cosine \(cosines.min()!) on \(directory)")
        print("\((directory as NSString).lastPathComponent): fp32 max abs error \(worst) over \(checked.count) texts; "
              + "int8 min cosine \(cosines.min()!), mean \(cosines.reduce(0, +) / Double(cosines.count)) over \(refs.count) texts")
        // A text's vector must not depend on its batch, here too.
        let alone = ids.map { int8.encoder.embed([$0])[0] }
        #expect(alone == int8.encoder.embed(ids))
    }

    @Test(arguments: FamilyData.tiny) func randomWeightModelMatchesSentenceTransformers(_ name: String) throws {
        let dir = FamilyData.fixtures + "/" + name
        try self.check(directory: dir, references: dir + "/reference.jsonl")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: FamilyData.large + "/model.safetensors"),
                   "models/random-768x12 is built by Scripts/test (Scripts/make-random-bert random-768x12)"))
    func the768Wide12LayerShapeMatchesSentenceTransformers() throws {
        // The float32 pass is slow in a debug build (C at -O0): the 8 longest texts, the 512-token one first.
        try self.check(directory: FamilyData.large, references: FamilyData.fixtures + "/random-768x12/reference.jsonl", float32Texts: 8)
    }

    @Test func theFixturesExerciseWhatTheyClaim() throws {
        let cls = try BertConfig.load(directory: FamilyData.fixtures + "/tiny-cls")
        #expect(cls.pooling == Pooling(mode: .cls, normalize: true) && cls.maxTokens == 128 && cls.headSize == 16)
        let mean = try BertConfig.load(directory: FamilyData.fixtures + "/tiny-mean-raw")
        #expect(mean.pooling == Pooling(mode: .mean, normalize: false) && mean.maxTokens == 512 && mean.hiddenSize == 96)
        let max = try BertConfig.load(directory: FamilyData.fixtures + "/tiny-max")
        #expect(max.pooling == Pooling(mode: .max, normalize: true) && max.maxTokens == 200 && max.headSize == 64)
        let miniLM = try BertConfig.load(directory: TestData.modelDirectory)
        #expect(miniLM == BertConfig.miniLML6)
        // The 512-token fixture really gets a 512-token text.
        let refs = try FamilyData.references(FamilyData.fixtures + "/tiny-mean-raw/reference.jsonl")
        #expect(refs.map(\.input_ids.count).max() == 512)
    }

    @Test func differentPoolingGivesADifferentFingerprint() throws {
        let dir = try FamilyData.copy("tiny-cls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = try ModelFiles(directory: dir).fingerprint(scheme: Int8Scheme.id)
        try FamilyData.edit(dir + "/1_Pooling/config.json") { $0["pooling_mode_cls_token"] = false; $0["pooling_mode_mean_tokens"] = true }
        #expect(try ModelFiles(directory: dir).fingerprint(scheme: Int8Scheme.id) != before)
    }

    @Test func aTokenizerJSONAloneGivesTheVocabulary() throws {
        let dir = try FamilyData.copy("tiny-cls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = try String(contentsOfFile: dir + "/vocab.txt", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let vocab = Dictionary(uniqueKeysWithValues: lines.enumerated().map { (String($0.element), $0.offset) })
        let json: [String: Any] = [
            "normalizer": ["type": "BertNormalizer", "lowercase": true, "strip_accents": NSNull(), "handle_chinese_chars": true, "clean_text": true],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "model": ["type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab],
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let withFile = try EmbeddingModel(directory: dir)
        try FileManager.default.removeItem(atPath: dir + "/vocab.txt")
        let withoutFile = try EmbeddingModel(directory: dir)
        let text = "Crème brûlée: the quick brown fox"
        #expect(withoutFile.tokenize(text) == withFile.tokenize(text))
    }

    /// A cased model (do_lower_case false) loads with a cased tokenizer, and a different fingerprint.
    @Test func aCasedModelKeepsCaseAndAccents() throws {
        let dir = try FamilyData.copy("tiny-cls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let uncased = try EmbeddingModel(directory: dir)
        try FamilyData.edit(dir + "/tokenizer_config.json") { $0["do_lower_case"] = false }
        let cased = try EmbeddingModel(directory: dir)
        #expect(!cased.tokenizer.lowercase && uncased.tokenizer.lowercase)
        #expect(cased.tokenize("The Fox") != uncased.tokenize("The Fox") && cased.tokenize("the fox") == uncased.tokenize("the fox"))
        #expect(cased.fingerprint != uncased.fingerprint)
    }

    /// Each edit of a good folder must be refused at load, with a message naming what is unsupported.
    static let refusals: [(String, String, String)] = [
        ("config.json", "model_type", "model_type \"xlm-roberta\""),
        ("config.json", "hidden_act", "hidden_act \"gelu_new\""),
        ("config.json", "position_embedding_type", "position_embedding_type \"relative_key\""),
        ("config.json", "architectures", "architecture NomicBertModel"),
        ("config.json", "num_attention_heads", "not a multiple of num_attention_heads"),
        ("1_Pooling/config.json", "pooling_mode_lasttoken", "pooling_mode_lasttoken"),
        ("1_Pooling/config.json", "two modes", "several pooling modes"),
        ("modules.json", "Dense", "sentence_transformers.models.Dense"),
        ("tokenizer_config.json", "strip_accents", "lowercasing without stripping accents"),
        ("tokenizer.json", "Unigram", "model \"Unigram\""),
        ("sentence_bert_config.json", "max_seq_length", "max_seq_length 1024"),
        ("model.safetensors", "names", "not a BERT checkpoint"),
    ]

    @Test(arguments: 0..<Self.refusals.count) func theLoaderRefusesWhatItDoesNotImplement(_ index: Int) throws {
        let (file, change, expected) = Self.refusals[index]
        let dir = try FamilyData.copy("tiny-cls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + file
        switch (file, change) {
        case ("config.json", "model_type"): try FamilyData.edit(path) { $0["model_type"] = "xlm-roberta" }
        case ("config.json", "hidden_act"): try FamilyData.edit(path) { $0["hidden_act"] = "gelu_new" }
        case ("config.json", "position_embedding_type"): try FamilyData.edit(path) { $0["position_embedding_type"] = "relative_key" }
        case ("config.json", "architectures"): try FamilyData.edit(path) { $0["architectures"] = ["NomicBertModel"] }
        case ("config.json", "num_attention_heads"): try FamilyData.edit(path) { $0["num_attention_heads"] = 5 }
        case (_, "pooling_mode_lasttoken"): try FamilyData.edit(path) { $0["pooling_mode_cls_token"] = false; $0["pooling_mode_lasttoken"] = true }
        case (_, "two modes"): try FamilyData.edit(path) { $0["pooling_mode_mean_tokens"] = true }
        case ("modules.json", _):
            let modules = #"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},"#
                + #"{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},"#
                + #"{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#
            try modules.write(toFile: path, atomically: true, encoding: .utf8)
        case ("tokenizer_config.json", _): try FamilyData.edit(path) { $0["strip_accents"] = false }
        case ("tokenizer.json", _):
            try #"{"model":{"type":"Unigram","vocab":[]},"normalizer":null,"pre_tokenizer":null}"#.write(toFile: path, atomically: true, encoding: .utf8)
        case ("sentence_bert_config.json", _): try FamilyData.edit(path) { $0["max_seq_length"] = 1024 }
        case ("model.safetensors", _):
            // The same bytes under other names: a header naming "encoder.embed_tokens.weight" (GPT-style).
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let header = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
            var text = String(decoding: bytes[8..<(8 + header)], as: UTF8.self)
            text = text.replacingOccurrences(of: "embeddings.word_embeddings", with: "embed_tokens.embedding_wxy")
            bytes.replaceSubrange(8..<(8 + header), with: Data(text.utf8))
            try bytes.write(to: URL(fileURLWithPath: path))
        default: Issue.record("no edit for \(file) \(change)")
        }
        do {
            _ = try EmbeddingModel(directory: dir)
            Issue.record("\(file) with \(change) was accepted")
        } catch let error as ModelError {
            #expect(error.code == .unsupportedModel || error.code == .badConfig, "\(error)")
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}
