// `embcache embed`: embed texts locally, no server: one JSON line per text, in input order.
import ArgumentParser
import EmbModel
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print {\"input_ids\": [...], \"embedding\": [...]} per text (JSONL in, JSONL out, input order kept)."
    )

    @Option(help: "The model folder (model.safetensors, vocab.txt, config.json).")
    var model: String = ModelFiles.defaultDirectory

    @Option(help: "A JSONL file of {\"text\": ...} lines.")
    var input: String?

    @Option(help: "Texts per encoder batch.")
    var batch: Int = 32

    @Option(help: "Encoder threads.")
    var threads: Int = 2

    @Flag(help: "Print the kernel path, load time and fingerprint on standard error.")
    var verbose = false

    @Argument(help: "Texts to embed (after those of --input).")
    var texts: [String] = []

    func run() throws {
        let model = try EmbeddingModel(directory: self.model, threads: self.threads)
        if self.verbose {
            let line = "embcache: model \(self.model), kernel \(model.encoder.kernelName), threads \(model.encoder.threads), "
                + "loaded in \(String(format: "%.3f", model.loadSeconds)) s, fingerprint \(model.fingerprint)\n"
            FileHandle.standardError.write(line.data(using: .utf8)!)
        }
        let texts = try (self.input.map(JSONLines.texts(path:)) ?? []) + self.texts
        var out = StandardOutput()
        var start = 0
        while start < texts.count {
            let chunk = texts[start..<min(start + max(1, self.batch), texts.count)].map(model.tokenize)
            for (ids, vector) in zip(chunk, model.encoder.embed(chunk)) {
                out.line("{\"input_ids\":\(JSONLines.array(ids)),\"embedding\":\(JSONLines.array(vector))}")
            }
            start += chunk.count
        }
        out.flush()
    }
}
