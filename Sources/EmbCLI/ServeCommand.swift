// `embcache serve`: run one node (RESP + HTTP), until SIGINT or SIGTERM.
import ArgumentParser
import EmbCluster
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
    @Option(help: "Redis (L2) HOST:PORT[/DB] or redis://[USER:PASSWORD@]HOST:PORT[/DB], or a Redis Cluster as cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]; 'none' for L1 only. Default: 127.0.0.1:6379 if it answers.")
    var redis: String?
    @Option(help: "A file holding the Redis password (sent with AUTH; overrides one in --redis or the cluster file).") var redisPasswordFile: String?
    @Option(help: "The model folder.") var model = ModelFiles.defaultDirectory
    @Option(help: "L1 budget, e.g. 256MiB, 1GiB, or bytes.") var l1MaxBytes = "256MiB"
    @Option(help: "Entry time to live, e.g. 24h, 30m, 90s.") var ttl = "24h"
    @Option(help: "XFetch beta for probabilistic early expiry (0 disables).") var earlyExpiryBeta = 1.0
    @Option(help: "Shared secret clients must AUTH with (visible in ps: prefer --secret-file or --secret-env).") var secret: String?
    @Option(help: "A file holding the shared secret (trailing newline dropped).") var secretFile: String?
    @Option(help: "An environment variable holding the shared secret.") var secretEnv: String?
    @Flag(help: "Allow listening beyond loopback without a secret (logs a loud warning).") var insecure = false
    @Option(help: "Client connections (RESP and HTTP) at most; more get '-ERR max number of clients reached' / 503.") var maxClients = 10_000
    @Option(help: "Unread reply bytes a RESP client may owe before it is dropped, e.g. 64MiB.") var maxOutputBytes = "64MiB"
    @Option(help: "Seconds a request may take before it is answered -BUSY / 503.") var requestTimeout = 30.0
    @Option(help: "This node's id.") var node = "n1"
    @Option(help: "A cluster file (YAML): addresses, Redis, cache settings and the ring come from it.") var cluster: String?
    @Option(help: "Encoder threads.") var threads = 2
    @Option(help: "Network (event-loop) threads.") var ioThreads = 1
    @Option(help: "Hot cache of keys other nodes own, in bytes (0 disables it).") var hotCacheBytes: String?
    @Option(help: "Seconds a silent RESP connection stays open.") var idleTimeout: Int64 = 300
    @Option(help: "Texts that may wait for the encoder; beyond, requests get -BUSY / HTTP 503.") var encoderQueue = 4096

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
            // The error does not repeat the value: it may hold a password.
            do { options.redis = try ClusterFile.RedisAddress.parse(r) } catch { throw ValidationError("--redis: \(error)") }
        }
        options.modelDirectory = self.model
        guard let bytes = Units.bytes(self.l1MaxBytes) else { throw ValidationError("--l1-max-bytes: expected a size like 256MiB, got \(self.l1MaxBytes)") }
        guard let ttl = Units.seconds(self.ttl), ttl > 0 else { throw ValidationError("--ttl: expected a duration like 24h, got \(self.ttl)") }
        guard self.earlyExpiryBeta >= 0 else { throw ValidationError("--early-expiry-beta must be >= 0") }
        options.node.l1MaxBytes = bytes
        options.node.ttl = ttl
        options.node.earlyExpiryBeta = self.earlyExpiryBeta
        options.secret = try self.secretOption()
        options.insecure = self.insecure
        guard self.maxClients > 0, let outputCap = Units.bytes(self.maxOutputBytes), outputCap > 0, self.requestTimeout > 0 else {
            throw ValidationError("--max-clients, --max-output-bytes and --request-timeout must be > 0")
        }
        options.limits.maxClients = self.maxClients
        options.limits.maxOutputBytes = outputCap
        options.limits.requestTimeout = self.requestTimeout
        options.encoderThreads = self.threads
        options.ioThreads = self.ioThreads
        guard self.idleTimeout > 0, self.encoderQueue > 0 else { throw ValidationError("--idle-timeout and --encoder-queue must be > 0") }
        options.idleTimeout = self.idleTimeout
        options.node.batcher.queueLimit = self.encoderQueue
        if let path = self.cluster {
            let file = try ClusterFile.load(path: path)
            for warning in file.warnings { logger.warning("\(warning)") }
            let me = try file.node(self.node)
            options.cluster = file
            options.clusterPath = path
            (options.respHost, options.respPort) = (me.resp.host, me.resp.port)
            (options.httpHost, options.httpPort) = (me.http.host, me.http.port)
            options.redis = me.redis
            options.redisOptional = false
            options.models = file.models
            options.node.l1MaxBytes = file.l1MaxBytes
            options.node.ttl = file.ttlSeconds
            options.node.earlyExpiryBeta = file.earlyExpiryBeta
            guard self.secret == nil, self.secretFile == nil, self.secretEnv == nil else {
                throw ValidationError("with --cluster the secret comes from the cluster file (secret, secret_env or secret_file), not from flags")
            }
            options.secret = file.secret
            options.metricsPublic = file.metricsPublic
            options.tls = file.tls(for: self.node)
        }
        if let path = self.redisPasswordFile {
            guard options.redis != nil else { throw ValidationError("--redis-password-file needs a Redis (--redis or the cluster file)") }
            options.redis?.password = try SecretSource.file(path).resolve(what: "--redis-password-file")
        }
        if options.redis?.username != nil && options.redis?.password == nil {
            throw ValidationError("--redis: a user name needs a password (in the URL or --redis-password-file)")
        }
        if let hot = self.hotCacheBytes {
            guard let bytes = Units.bytes(hot) else { throw ValidationError("--hot-cache-bytes: expected a size, got \(hot)") }
            options.node.hotCacheMaxBytes = bytes
        }
        let built = try await buildNode(options, logger: logger)
        if let reload = built.context.reload {
            // SIGHUP re-reads the cluster file (as CLUSTER RELOAD does).
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            signal(SIGHUP, SIG_IGN)
            source.setEventHandler {
                switch reload() {
                case .success: logger.info("SIGHUP: cluster file reloaded")
                case .failure(let error): logger.error("SIGHUP: cluster file refused, keeping the old one: \(error)")
                }
            }
            source.resume()
            SignalSourceHolder.keep(source)
        }
        let group = ServiceGroup(configuration: .init(services: built.services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The secret from --secret, --secret-file or --secret-env (at most one).
    func secretOption() throws -> Secret? {
        let given = [self.secret.map { SecretSource.inline(Secret($0)) }, self.secretFile.map { .file($0) }, self.secretEnv.map { .environment($0) }]
            .compactMap { $0 }
        guard given.count <= 1 else { throw ValidationError("give only one of --secret, --secret-file, --secret-env") }
        return try given.first?.resolve(what: "the secret")
    }

    static func address(_ s: String, _ flag: String) throws -> (String, Int) {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(flag): expected HOST:PORT, got \(s)")
        }
        return (String(s[..<colon]), port)
    }
}

/// Keeps the SIGHUP source alive for the life of the process.
enum SignalSourceHolder {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    static func keep(_ source: any DispatchSourceSignal) { sources.append(source) }
}
