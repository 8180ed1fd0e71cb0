// The channel pipelines of the two client ports, in one place. Each accepted connection gets, in order:
//   transport security   `addTransportSecurity`, the ONE spot where TLS goes in front of both ports
//                        (EmbTLS: PlaintextRefusal, NIOSSLServerHandler, TLSSessionWatch) when the
//                        cluster file's `tls:` turns it on for that door; nothing otherwise;
//   the connection gate  counted against `maxClients` (over it, a GateRefusal says why and closes;
//                        behind TLS, so a TLS client can read the refusal);
//   RESP                 RESPConnectionHandler (it frames requests itself, and learns from the TLS
//                        handshake's TLSHandshakeOutcome whether PEER.* commands are allowed);
//   HTTP                 NIOHTTP1's request decoder, HTTPHandler (which writes whole responses
//                        itself: HTTPResponse).
// Both handlers keep their own idle timeout (IdleTimer): no extra hop on every read and write.
// Peer links and the Redis links are client channels of their own (Cluster/PeerLink adds the client
// side of TLS), not set up here.
import EmbRESP
import EmbTLS
import Logging
import NIOCore
import NIOHTTP1

package enum ClientPipelines {
    /// Handlers that secure the byte stream of a client connection, added first on both ports: TLS
    /// when the node's `tls` turns it on for `door`, nothing otherwise.
    package static func addTransportSecurity(_ channel: any Channel, tls: NodeTLS?, door: NodeTLS.Door, logger: Logger) throws {
        try channel.pipeline.syncOperations.addTLSIfConfigured(tls, door: door, logger: logger)
    }

    /// A RESP client connection.
    package static func resp(_ channel: any Channel, server: ServerContext, limits: RESPLimits, idleTimeout: TimeAmount,
                             logger: Logger = Self.logger) throws {
        try Self.addTransportSecurity(channel, tls: server.tls, door: .resp, logger: logger)
        guard server.connections.admit(channel) else { return try channel.pipeline.syncOperations.addHandler(GateRefusal(message: GateRefusal.resp)) }
        try channel.pipeline.syncOperations.addHandler(RESPConnectionHandler(server: server, limits: limits, idleTimeout: idleTimeout))
    }

    /// An HTTP client connection.
    package static func http(_ channel: any Channel, server: ServerContext, idleTimeout: TimeAmount, logger: Logger = Self.logger) throws {
        try Self.addTransportSecurity(channel, tls: server.tls, door: .http, logger: logger)
        guard server.connections.admit(channel) else { return try channel.pipeline.syncOperations.addHandler(GateRefusal(message: GateRefusal.http)) }
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandler(HTTPHandler(server: server, idleTimeout: idleTimeout))
    }

    /// Where the TLS layer logs refused handshakes when the caller gives no logger (tests).
    package static let logger = Logger(label: "embcache.tls")
}
