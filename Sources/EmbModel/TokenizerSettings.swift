// What a model folder says about its tokenizer, checked against the one embcache implements: BERT's
// WordPiece (BertNormalizer with text cleaning and CJK isolation, and either lowercasing with accent
// stripping (uncased: all-MiniLM, bge, e5, gte) or neither (cased); BertPreTokenizer; "##"
// continuations; [CLS] text [SEP]). tokenizer.json is authoritative when present, as in Hugging Face's
// fast tokenizers; else tokenizer_config.json (the slow BertTokenizer's arguments). A setting we do
// not implement (lowercasing without accent stripping, say) is refused by name, never approximated:
// token ids are part of the cache key. MPNet's tokenizer is the same WordPiece pipeline with
// RobertaProcessing's <s> … </s> and its own added tokens: read from tokenizer.json (required then).
import EmbTokenizer
import Foundation

/// The checked tokenizer description of a model folder, and its vocabulary.
struct TokenizerSettings {
    /// vocab.txt's text (one token a line, line number = id), from vocab.txt or tokenizer.json.
    let vocabularyText: String
    /// Uncased (lowercase and strip accents) or cased (neither).
    let lowercase: Bool
    /// The tokens around a text and the added tokens matched in it (BERT's unless tokenizer.json says otherwise).
    var specials = SpecialTokens.bert

    /// What the fingerprint records of the settings.
    var canonical: String { "wordpiece:\(self.lowercase ? "lowercase:strip-accents" : "cased"):cjk:clean:bert-pre:cls-sep" + self.specials.canonical }

    static func load(directory: String) throws -> TokenizerSettings {
        let jsonPath = directory + "/tokenizer.json"
        let tokenizerJSON = try JSONFile.object(jsonPath)
        var lowercase = true
        var specials = SpecialTokens.bert
        if let tokenizerJSON { (lowercase, specials) = try Self.check(tokenizerJSON, path: jsonPath) }
        if let config = try JSONFile.object(directory + "/tokenizer_config.json") {
            let fromConfig = try Self.check(config: config, specials: specials, hasTokenizerJSON: tokenizerJSON != nil)
            if tokenizerJSON == nil { lowercase = fromConfig }
        }
        let vocabPath = directory + "/vocab.txt"
        if let text = try? String(contentsOfFile: vocabPath, encoding: .utf8) {
            return TokenizerSettings(vocabularyText: text, lowercase: lowercase, specials: specials)
        }
        guard let tokenizerJSON else {
            throw ModelError(.missingFile, "\(directory) has neither vocab.txt nor tokenizer.json; fetch the model with Scripts/fetch-model "
                             + "(or point the model path at a folder holding model.safetensors, config.json and vocab.txt)")
        }
        return TokenizerSettings(vocabularyText: try Self.vocabularyText(tokenizerJSON, path: jsonPath), lowercase: lowercase, specials: specials)
    }

    /// Refuses a tokenizer.json whose pipeline is not BERT WordPiece; whether it lowercases, and its specials.
    static func check(_ json: [String: Any], path: String) throws -> (Bool, SpecialTokens) {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "\(path): \(what) is not supported: embcache implements BERT's WordPiece tokenizer, uncased or cased")
        }
        let model = json["model"] as? [String: Any]
        guard (model?["type"] as? String) == "WordPiece" else { throw refuse("model \"\(model?["type"] as? String ?? "(none)")\"") }
        if let prefix = model?["continuing_subword_prefix"] as? String, prefix != "##" { throw refuse("continuing_subword_prefix \"\(prefix)\"") }
        let unk = (model?["unk_token"] as? String) ?? "[UNK]"
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
        let post = json["post_processor"] as? [String: Any]
        if let type = post?["type"] as? String, type == "RobertaProcessing" {
            // MPNet: <s> text </s>, its own added tokens.
            return (lowercase, try Self.robertaSpecials(json, post: post ?? [:], unk: unk, lowercase: lowercase, refuse))
        }
        if let type = post?["type"] as? String, type != "TemplateProcessing" && type != "BertProcessing" {
            throw refuse("post_processor \"\(type)\"")
        }
        if unk != "[UNK]" { throw refuse("unk_token \"\(unk)\"") }
        let standard: Set<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        for token in (json["added_tokens"] as? [[String: Any]]) ?? [] {
            if let content = token["content"] as? String, !standard.contains(content) { throw refuse("the added token \"\(content)\"") }
        }
        return (lowercase, .bert)
    }

    /// RobertaProcessing's specials (MPNet): cls and sep from the post-processor, pad from the padding
    /// settings (else "<pad>"), and the added tokens, each matched in raw or normalized text as its
    /// `normalized` flag says. A single_word token, or a normalized one that normalization would change,
    /// is refused: the scan does not implement those matches.
    static func robertaSpecials(_ json: [String: Any], post: [String: Any], unk: String, lowercase: Bool,
                                _ refuse: (String) -> ModelError) throws -> SpecialTokens {
        guard let cls = (post["cls"] as? [Any])?.first as? String, let sep = (post["sep"] as? [Any])?.first as? String else {
            throw refuse("a RobertaProcessing post_processor without cls and sep")
        }
        let pad = ((json["padding"] as? [String: Any])?["pad_token"] as? String) ?? "<pad>"
        var raw: [String] = []
        var normalized: [String] = []
        for token in (json["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let content = token["content"] as? String, !content.isEmpty else { throw refuse("an added token without content") }
            if (token["single_word"] as? Bool) == true { throw refuse("the single_word added token \"\(content)\"") }
            if (token["normalized"] as? Bool) == true {
                let plain = content.unicodeScalars.allSatisfy { $0.isASCII && $0 != " " && !(lowercase && ("A"..."Z").contains($0)) }
                if !plain { throw refuse("the normalized added token \"\(content)\" (only lowercase ASCII without spaces)") }
                normalized.append(content)
            } else {
                raw.append(content)
            }
        }
        return SpecialTokens(cls: cls, sep: sep, pad: pad, unk: unk, raw: raw, normalized: normalized)
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
    static func check(config: [String: Any], specials: SpecialTokens = .bert, hasTokenizerJSON: Bool = false) throws -> Bool {
        func refuse(_ what: String) -> ModelError {
            ModelError(.unsupportedModel, "tokenizer_config.json: \(what) is not supported: embcache implements BERT's WordPiece tokenizer, uncased or cased")
        }
        // MPNet's tokenizer is served from its tokenizer.json only (the added tokens are listed there).
        let classes = hasTokenizerJSON && specials != .bert ? ["MPNetTokenizer", "MPNetTokenizerFast"] : ["BertTokenizer", "BertTokenizerFast"]
        if let cls = config["tokenizer_class"] as? String, !classes.contains(cls) {
            throw refuse("tokenizer_class \(cls)" + (cls.hasPrefix("MPNet") ? " without a tokenizer.json" : ""))
        }
        for (key, expected) in [("cls_token", specials.cls), ("sep_token", specials.sep), ("unk_token", specials.unk), ("pad_token", specials.pad)] {
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
