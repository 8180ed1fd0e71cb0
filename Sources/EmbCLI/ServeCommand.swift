// `embcache serve`: run one node (RESP + HTTP), until SIGINT or SIGTERM.
import ArgumentParser
import EmbModel
import EmbServer
import Foundation
import Logging
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one embcache node: RESP on --resp, the OpenAI-compatible HTTP API on --http."
    )

    @Option(help: "RESP listen address HOST:PORT.") var resp = "127.0.0.1:7400"
    @Option(help: "HTTP listen address HOST:PORT.") var http = "127.0.0.1:8400"
    @Option(help: "Redis (L2) HOST:PORT[/DB]; 'none' for L1 only. Default: 127.0.0.1:6379 if it answers.") var redis: String?
    @Option(help: "The model folder.") var model = ModelFiles.defaultDirectory
    @Option(help: "L1 budget, e.g. 256MiB, 1GiB, or bytes.") var l1MaxBytes = "256MiB"
    @Option(help: "Entry time to live, e.g. 24h, 30m, 90s.") var ttl = "24h"
    @Option(help: "XFetch beta for probabilistic early expiry (0 disables).") var earlyExpiryBeta = 1.0
    @Option(help: "Shared secret clients must AUTH with (none by default: loopback only).") var secret: String?
    @Option(help: "This node's id.") var node = "n1"
    @Option(help: "Encoder threads.") var threads = 2
    @Option(help: "Network (event-loop) threads.") var ioThreads = 1

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "embcache")
        var options = NodeOptions()
        options.nodeID = self.node
        (options.respHost, options.respPort) = try Self.address(self.resp, "--resp")
        (options.httpHost, options.httpPort) = try Self.address(self.http, "--http")
        switch self.redis {
        case nil: options.redisOptional = true
        case "none"?: options.redis = nil
        case let r?:
            guard let parsed = NodeOptions.parseRedis(r) else { throw ValidationError("--redis: expected HOST:PORT[/DB], got \(r)") }
            options.redis = parsed
        }
        options.modelDirectory = self.model
        guard let bytes = Units.bytes(self.l1MaxBytes) else { throw ValidationError("--l1-max-bytes: expected a size like 256MiB, got \(self.l1MaxBytes)") }
        guard let ttl = Units.seconds(self.ttl), ttl > 0 else { throw ValidationError("--ttl: expected a duration like 24h, got \(self.ttl)") }
        guard self.earlyExpiryBeta >= 0 else { throw ValidationError("--early-expiry-beta must be >= 0") }
        options.node.l1MaxBytes = bytes
        options.node.ttl = ttl
        options.node.earlyExpiryBeta = self.earlyExpiryBeta
        options.secret = self.secret
        options.encoderThreads = self.threads
        options.ioThreads = self.ioThreads
        let built = try await buildNode(options, logger: logger)
        let group = ServiceGroup(configuration: .init(services: built.services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    static func address(_ s: String, _ flag: String) throws -> (String, Int) {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(flag): expected HOST:PORT, got \(s)")
        }
        return (String(s[..<colon]), port)
    }
}

/// Sizes ("256MiB", "1GB", "1048576") and durations ("24h", "30m", "90s", "1d").
enum Units {
    static func bytes(_ s: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            return Double(s.dropLast(suffix.count)).map { Int($0 * Double(scale)) }
        }
        return Int(s)
    }

    static func seconds(_ s: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            if suffix == "s" && s.hasSuffix("ms") { continue }
            return Double(s.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(s)
    }
}
