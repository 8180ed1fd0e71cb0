// `embcache`: the command-line entry point. One file per subcommand; this one only lists them.
import ArgumentParser

@main
struct EmbCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embcache",
        abstract: "A distributed cache cluster for text embeddings (all-MiniLM-L6-v2).",
        subcommands: [ServeCommand.self, EmbedCommand.self, TokenizeCommand.self, WarmCommand.self, BenchCommand.self, ReportCommand.self]
    )
}
