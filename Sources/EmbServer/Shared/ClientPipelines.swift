// The channel pipelines of the two client ports, in one place. Each accepted connection is counted
// against `maxClients` (over it, a GateRefusal says why and closes), then gets, in order:
//   transport security   `addTransportSecurity`, the ONE spot where a TLS handler goes in front of
//                        both ports (none today: loopback, or a secret over a trusted network);
//   RESP                 RESPConnectionHandler (it frames requests itself);
//   HTTP                 NIOHTTP1's request decoder, HTTPHandler (which writes whole responses
//                        itself: HTTPResponse).
// Both handlers keep their own idle timeout (IdleTimer): no extra hop on every read and write.
// Peer links and the Redis links are client channels of their own (Cluster/PeerLink), not set up here.
import EmbRESP
import NIOCore
import NIOHTTP1

package enum ClientPipelines {
    /// Handlers that secure the byte stream of a client connection, added first on both ports.
    /// A TLS handler (NIOSSLServerHandler) goes here.
    package static func addTransportSecurity(_ channel: any Channel) throws {}

    /// A RESP client connection.
    package static func resp(_ channel: any Channel, server: ServerContext, limits: RESPLimits, idleTimeout: TimeAmount) throws {
        guard server.connections.admit(channel) else { return try channel.pipeline.syncOperations.addHandler(GateRefusal(message: GateRefusal.resp)) }
        try Self.addTransportSecurity(channel)
        try channel.pipeline.syncOperations.addHandler(RESPConnectionHandler(server: server, limits: limits, idleTimeout: idleTimeout))
    }

    /// An HTTP client connection.
    package static func http(_ channel: any Channel, server: ServerContext, idleTimeout: TimeAmount) throws {
        guard server.connections.admit(channel) else { return try channel.pipeline.syncOperations.addHandler(GateRefusal(message: GateRefusal.http)) }
        try Self.addTransportSecurity(channel)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandler(HTTPHandler(server: server, idleTimeout: idleTimeout))
    }
}
