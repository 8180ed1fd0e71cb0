// A TCP listener and the service that drains the node last, as swift-service-lifecycle Services.
import EmbNode
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP listener as a Service: binds, serves until graceful shutdown, then closes.
struct ListenerService: Service {
    let name: String
    let group: MultiThreadedEventLoopGroup
    let host: String
    let port: Int
    let logger: Logger
    let initialize: @Sendable (any Channel) throws -> Void

    init(name: String, group: MultiThreadedEventLoopGroup, host: String, port: Int, logger: Logger,
         initialize: @escaping @Sendable (any Channel) throws -> Void) {
        (self.name, self.group, self.host, self.port, self.logger, self.initialize) = (name, group, host, port, logger, initialize)
    }

    func run() async throws {
        let initialize = self.initialize
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initialize(channel) } }
            .bind(host: self.host, port: self.port).get()
        self.logger.info("listening", metadata: ["listener": "\(self.name)", "address": "\(self.host):\(channel.localAddress?.port ?? self.port)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// Last to stop: stops every lane's batcher, then drains its write-behind queue into Redis.
struct DrainService: Service {
    let nodes: [EmbeddingNode]

    func run() async throws {
        try? await gracefulShutdown()
        for node in self.nodes { node.batcher.stop() }
        for node in self.nodes { await node.l2?.shutdown() }
        self.nodes.first?.savings.audit?.stop()
    }
}

