// `embcache tokenize`: the token ids the encoder would see, one JSON line per text.
import ArgumentParser
import EmbModel
import EmbTokenizer

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print {\"input_ids\": [...]} per text (JSONL in, JSONL out, input order kept)."
    )

    @Option(help: "The model folder (vocab.txt inside).")
    var model: String = ModelFiles.defaultDirectory

    @Option(help: "A JSONL file of {\"text\": ...} lines.")
    var input: String?

    @Argument(help: "Texts to tokenize (after those of --input).")
    var texts: [String] = []

    func run() throws {
        _ = try ModelFiles(directory: self.model)
        let tokenizer = try ModelKeys.tokenizer(directory: self.model)
        let maxTokens = try BertConfig.load(directory: self.model).maxTokens
        var out = StandardOutput()
        for text in try (self.input.map(JSONLines.texts(path:)) ?? []) + self.texts {
            out.line("{\"input_ids\":\(JSONLines.array(tokenizer.encode(text, maxTokens: maxTokens)))}")
        }
        out.flush()
    }
}
