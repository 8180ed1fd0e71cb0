// `embcache bench encoder`: texts/s and tokens/s of the int8 encoder, measured the way
// Scripts/anchors/ort_anchor.py measures ONNX Runtime (the anchor): the file cut into batches of B,
// one warm-up batch, then 3 timed repetitions of secs/3 each; the median is printed.
// Scripts/bench-encoder runs both in one command, interleaved, and prints the ratios.
// Beside texts/s it prints the effective multiply-adds per second (BertConfig.multiplyAdds of the
// texts' real token counts: dense layers and attention) and their share of the int8 peak measured in
// the same command on the encoder's threads (BertEncoder.measurePeak), before every batch size; the
// share is taken against the highest peak measured so far, and the last line gives the peak.
// With --bandwidth-mb it then measures the machine's memory read bandwidth and prints batch 1's
// weight bytes/s against it: a model too large for the cache is bound by streaming its weights.
import ArgumentParser
import EmbModel
import Foundation

struct BenchEncoderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Encoder throughput: one line `encoder batch=B texts/s=X tokens/s=Y macs/s=M peak_share=P%` per batch size, then the measured int8 peak and peak RSS."
    )

    @Option(help: "A JSONL file of {\"text\": ...} lines.")
    var input: String

    @Option(help: "Comma-separated batch sizes.")
    var batch: String = "1,32"

    @Option(help: "Seconds per batch size (split over 3 repetitions).")
    var secs: Double = 6

    @Option(help: "Encoder threads.")
    var threads: Int = 2

    @Option(help: "Seconds of the int8 peak measurement before each batch size.")
    var peakSecs: Double = 0.5

    @Option(help: "Megabytes of the memory read-bandwidth measurement, run after everything else (0: none). Batch 1 then also prints its weight bytes/s as a share of it.")
    var bandwidthMb: Int = 0

    @Option(help: "The model folder.")
    var model: String = ModelFiles.defaultDirectory

    func run() throws {
        let model = try EmbeddingModel(directory: self.model, threads: self.threads)
        let texts = try JSONLines.texts(path: self.input).map(model.tokenize)
        guard !texts.isEmpty else { throw ValidationErrorMessage("\(self.input) has no texts") }
        print("encoder kernel=\(model.encoder.kernelName) threads=\(model.encoder.threads) load_s=\(String(format: "%.3f", model.loadSeconds))")
        var peak = 0.0
        var batchOneTexts: Double?
        for size in self.batch.split(separator: ",").compactMap({ Int($0) }) where size > 0 {
            peak = max(peak, model.encoder.measurePeak(seconds: self.peakSecs))
            let groups = stride(from: 0, to: max(texts.count - size + 1, 1), by: size).map { Array(texts[$0..<min($0 + size, texts.count)]) }
            _ = model.encoder.embed(groups[0])
            var runs: [(texts: Double, tokens: Double, macs: Double)] = []
            for _ in 0..<3 {
                var (n, t, k, macs) = (0, 0, 0, 0)
                let start = DispatchTime.now().uptimeNanoseconds
                var elapsed = 0.0
                while elapsed < self.secs / 3 {
                    let g = groups[n % groups.count]
                    _ = model.encoder.embed(g)
                    t += g.count
                    k += g.reduce(0) { $0 + $1.count }
                    macs += g.reduce(0) { $0 + model.config.multiplyAdds(tokens: $1.count) }
                    n += 1
                    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                }
                runs.append((Double(t) / elapsed, Double(k) / elapsed, Double(macs) / elapsed))
            }
            runs.sort { $0.texts < $1.texts }
            let median = runs[1]
            if size == 1 { batchOneTexts = median.texts }
            print("encoder batch=\(size) texts/s=\(String(format: "%.1f", median.texts)) tokens/s=\(Int(median.tokens))"
                  + " macs/s=\(String(format: "%.1fG", median.macs / 1e9)) peak_share=\(String(format: "%.1f", 100 * median.macs / peak))%")
        }
        print("peak kernel=\(model.encoder.kernelName) threads=\(model.encoder.threads) int8_macs/s=\(String(format: "%.1fG", peak / 1e9))")
        print("peak_rss_mb=\(String(format: "%.1f", PeakRSS.megabytes()))")
        // After the RSS line: the bandwidth buffer is not the encoder's memory.
        guard self.bandwidthMb > 0 else { return }
        let bandwidth = model.encoder.measureBandwidth(megabytes: self.bandwidthMb, seconds: 1)
        print("bandwidth threads=\(model.encoder.threads) buffer_mb=\(self.bandwidthMb) read_gb/s=\(String(format: "%.2f", bandwidth / 1e9))")
        if let texts = batchOneTexts {
            // At batch 1 every text streams every dense layer's weights once.
            let bytes = texts * Double(model.encoder.denseWeightBytes)
            print("weights batch=1 weight_mb=\(String(format: "%.1f", Double(model.encoder.denseWeightBytes) / 1e6))"
                  + " gb/s=\(String(format: "%.2f", bytes / 1e9)) bandwidth_share=\(String(format: "%.1f", 100 * bytes / bandwidth))%")
        }
    }
}

/// Peak resident set size of this process (getrusage's ru_maxrss, in KiB on Linux).
enum PeakRSS {
    static func megabytes() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
