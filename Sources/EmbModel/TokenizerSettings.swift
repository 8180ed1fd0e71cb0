// What a model folder says about its tokenizer, checked against the one embcache implements: BERT's
// uncased WordPiece (BertNormalizer with lowercasing, accent stripping, CJK isolation and text
// cleaning; BertPreTokenizer; "##" continuations; [CLS] text [SEP]). That is the tokenizer of every
// model the family's RAG users run (all-MiniLM, bge, e5, gte). tokenizer.json is authoritative when
// present, as in Hugging Face's fast tokenizers; else tokenizer_config.json (the slow BertTokenizer's
// arguments). A setting we do not implement is refused by name, never approximated: token ids are
// part of the cache key.
import Foundation

/// The checked tokenizer description of a model folder, and its vocabulary.
struct TokenizerSettings {
    /// vocab.txt's text (one token a line, line number = id), from vocab.txt or tokenizer.json.
    let vocabularyText: String
    /// What the fingerprint records of the settings (they are all fixed today, but say so).
    static let canonical = "wordpiece:lowercase:strip-accents:cjk:clean:bert-pre:cls-sep"

    static func load(directory: String) throws -> TokenizerSettings {
        let jsonPath = directory + "/tokenizer.json"
        let tokenizerJSON = try JSONFile.object(jsonPath)
        if let tokenizerJSON { try Self.check(tokenizerJSON, path: jsonPath) }
        if let config = try JSONFile.object(directory + "/tokenizer_config.json") {
            try Self.check(config: config, authoritative: tokenizerJSON == nil)
        }
        let vocabPath = directory + "/vocab.txt"
        if let text = try? String(contentsOfFile: vocabPath, encoding: .utf8) {
            return TokenizerSettings(vocabularyText: text)
        }
        guard let tokenizerJSON else {
            throw ModelError(.missingFile, "\(directory) has neither vocab.txt nor tokenizer.json; fetch the model with Scripts/fetch-model "
                             + "(or point the model path at a folder holding model.safetensors, config.json and vocab.txt)")
        }
        return TokenizerSettings(vocabularyText: try Self.vocabularyText(tokenizerJSON, path: jsonPath))
    }

    /// Refuses a tokenizer.json whose pipeline is not uncased BERT WordPiece.
    static func check(_ json: [String: Any], path: String) throws {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "\(path): \(what) is not supported: embcache implements BERT's uncased WordPiece tokenizer")
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
        if (normalizer?["lowercase"] as? Bool) == false { throw refuse("a cased normalizer (lowercase false)") }
        if (normalizer?["strip_accents"] as? Bool) == false { throw refuse("strip_accents false") }
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
    }

    /// Refuses tokenizer_config.json settings we do not implement; `authoritative`: there is no
    /// tokenizer.json, so these arguments are the tokenizer.
    static func check(config: [String: Any], authoritative: Bool) throws {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "tokenizer_config.json: \(what) is not supported: embcache implements BERT's uncased WordPiece tokenizer")
        }
        if let cls = config["tokenizer_class"] as? String, !["BertTokenizer", "BertTokenizerFast"].contains(cls) {
            throw refuse("tokenizer_class \(cls)")
        }
        for (key, expected) in [("cls_token", "[CLS]"), ("sep_token", "[SEP]"), ("unk_token", "[UNK]"), ("pad_token", "[PAD]")] {
            if let value = config[key] as? String, value != expected { throw refuse("\(key) \"\(value)\"") }
        }
        guard authoritative else { return }
        if (config["do_lower_case"] as? Bool) == false { throw refuse("do_lower_case false (a cased model)") }
        if (config["strip_accents"] as? Bool) == false { throw refuse("strip_accents false") }
        if (config["tokenize_chinese_chars"] as? Bool) == false { throw refuse("tokenize_chinese_chars false") }
        if (config["do_basic_tokenize"] as? Bool) == false { throw refuse("do_basic_tokenize false") }
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
