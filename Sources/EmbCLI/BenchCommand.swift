// `embcache bench`: the benchmarks. Each prints its figures; anchors run in the same command.
import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark.",
        subcommands: [BenchEncoderCommand.self, BenchTokenizerCommand.self, BenchRingCommand.self]
    )
}
