// What a model folder says about its tokenizer, checked against the one embcache implements: BERT's
// WordPiece (BertNormalizer with text cleaning and CJK isolation, and either lowercasing with accent
// stripping (uncased: all-MiniLM, bge, e5, gte) or neither (cased); BertPreTokenizer; "##"
// continuations; [CLS] text [SEP]). tokenizer.json is authoritative when present, as in Hugging Face's
// fast tokenizers; else tokenizer_config.json (the slow BertTokenizer's arguments). A setting we do
// not implement (lowercasing without accent stripping, say) is refused by name, never approximated:
// token ids are part of the cache key.
import Foundation

/// The checked tokenizer description of a model folder, and its vocabulary.
struct TokenizerSettings {
    /// vocab.txt's text (one token a line, line number = id), from vocab.txt or tokenizer.json.
    let vocabularyText: String
    /// Uncased (lowercase and strip accents) or cased (neither).
    let lowercase: Bool

    /// What the fingerprint records of the settings.
    var canonical: String { "wordpiece:\(self.lowercase ? "lowercase:strip-accents" : "cased"):cjk:clean:bert-pre:cls-sep" }

    static func load(directory: String) throws -> TokenizerSettings {
        let jsonPath = directory + "/tokenizer.json"
        let tokenizerJSON = try JSONFile.object(jsonPath)
        var lowercase = true
        if let tokenizerJSON { lowercase = try Self.check(tokenizerJSON, path: jsonPath) }
        if let config = try JSONFile.object(directory + "/tokenizer_config.json") {
            let fromConfig = try Self.check(config: config)
            if tokenizerJSON == nil { lowercase = fromConfig }
        }
        let vocabPath = directory + "/vocab.txt"
        if let text = try? String(contentsOfFile: vocabPath, encoding: .utf8) {
            return TokenizerSettings(vocabularyText: text, lowercase: lowercase)
        }
        guard let tokenizerJSON else {
            throw ModelError(.missingFile, "\(directory) has neither vocab.txt nor tokenizer.json; fetch the model with Scripts/fetch-model "
                             + "(or point the model path at a folder holding model.safetensors, config.json and vocab.txt)")
        }
        return TokenizerSettings(vocabularyText: try Self.vocabularyText(tokenizerJSON, path: jsonPath), lowercase: lowercase)
    }

    /// Refuses a tokenizer.json whose pipeline is not BERT WordPiece; whether it lowercases.
    static func check(_ json: [String: Any], path: String) throws -> Bool {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "\(path): \(what) is not supported: embcache implements BERT's WordPiece tokenizer, uncased or cased")
        }
        let model = json["model"] as? [String: Any]
        guard (model?["type"] as? String) == "WordPiece" else { throw refuse("model \"\(model?["type"] as? String ?? "(none)")\"") }
        if let prefix = model?["continuing_subword_prefix"] as? String, prefix != "##" { throw refuse("continuing_subword_prefix \"\(prefix)\"") }
        if let unk = model?["unk_token"] as? String, unk != "[UNK]" { throw refuse("unk_token \"\(unk)\"") }
        if let chars = model?["max_input_chars_per_word"] as? Int, chars != 100 { throw refuse("max_input_chars_per_word \(chars)") }
        let normalizer = json["normalizer"] as? [String: Any]
        guard (normalizer?["type"] as? String) == "BertNormalizer" else {
            throw refuse("normalizer \"\(normalizer?["type"] as? String ?? "(none)")\"")
        }
        let lowercase = (normalizer?["lowercase"] as? Bool) ?? true
        try Self.checkCase(lowercase: lowercase, stripAccents: normalizer?["strip_accents"] as? Bool, refuse)
        if (normalizer?["handle_chinese_chars"] as? Bool) == false { throw refuse("handle_chinese_chars false") }
        if (normalizer?["clean_text"] as? Bool) == false { throw refuse("clean_text false") }
        let pre = json["pre_tokenizer"] as? [String: Any]
        guard (pre?["type"] as? String) == "BertPreTokenizer" else { throw refuse("pre_tokenizer \"\(pre?["type"] as? String ?? "(none)")\"") }
        if let post = json["post_processor"] as? [String: Any], let type = post["type"] as? String,
           type != "TemplateProcessing" && type != "BertProcessing" {
            throw refuse("post_processor \"\(type)\"")
        }
        let standard: Set<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        for token in (json["added_tokens"] as? [[String: Any]]) ?? [] {
            if let content = token["content"] as? String, !standard.contains(content) { throw refuse("the added token \"\(content)\"") }
        }
        return lowercase
    }

    /// BertNormalizer's strip_accents follows lowercase when unset; the two combinations where they
    /// agree are implemented, the others (accents stripped but case kept, or the reverse) are not.
    static func checkCase(lowercase: Bool, stripAccents: Bool?, _ refuse: (String) -> ModelError) throws {
        if let strip = stripAccents, strip != lowercase {
            throw refuse(lowercase ? "lowercasing without stripping accents (strip_accents false)" : "stripping accents without lowercasing (strip_accents true)")
        }
    }

    /// Refuses tokenizer_config.json settings we do not implement; whether it lowercases (what counts
    /// when there is no tokenizer.json: then these arguments are the tokenizer).
    static func check(config: [String: Any]) throws -> Bool {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "tokenizer_config.json: \(what) is not supported: embcache implements BERT's WordPiece tokenizer, uncased or cased")
        }
        if let cls = config["tokenizer_class"] as? String, !["BertTokenizer", "BertTokenizerFast"].contains(cls) {
            throw refuse("tokenizer_class \(cls)")
        }
        for (key, expected) in [("cls_token", "[CLS]"), ("sep_token", "[SEP]"), ("unk_token", "[UNK]"), ("pad_token", "[PAD]")] {
            if let value = config[key] as? String, value != expected { throw refuse("\(key) \"\(value)\"") }
        }
        let lowercase = (config["do_lower_case"] as? Bool) ?? true
        try Self.checkCase(lowercase: lowercase, stripAccents: config["strip_accents"] as? Bool, refuse)
        if (config["tokenize_chinese_chars"] as? Bool) == false { throw refuse("tokenize_chinese_chars false") }
        if (config["do_basic_tokenize"] as? Bool) == false { throw refuse("do_basic_tokenize false") }
        return lowercase
    }

    /// vocab.txt's text rebuilt from tokenizer.json's WordPiece vocabulary (token → id, ids 0..<n).
    static func vocabularyText(_ json: [String: Any], path: String) throws -> String {
        guard let vocab = (json["model"] as? [String: Any])?["vocab"] as? [String: Int], !vocab.isEmpty else {
            throw ModelError(.badConfig, "\(path): no model.vocab")
        }
        var lines = [String?](repeating: nil, count: vocab.count)
        for (token, id) in vocab {
            guard id >= 0, id < lines.count, lines[id] == nil else { throw ModelError(.badConfig, "\(path): vocabulary ids are not 0..<\(vocab.count)") }
            lines[id] = token
        }
        return lines.map { $0! }.joined(separator: "\n") + "\n"
    }
}
