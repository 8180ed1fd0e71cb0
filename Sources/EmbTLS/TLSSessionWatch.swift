// Sits behind the TLS handler of a door until the handshake ends. A handshake that fails (a client
// certificate of another CA, a client that does not trust ours, garbage after a handshake byte) is
// logged in one line with the client's address and BoringSSL's reason (one per address and minute:
// RefusalLog), and the connection closed. A handshake that succeeds is announced to the protocol
// handler behind it as a `TLSHandshakeOutcome` (whether a client certificate of the CA was shown, and
// so whether PEER.* commands are allowed), and this handler leaves the pipeline. A handshake not done
// within 10 s is closed.
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Fired down a TLS door's pipeline when the handshake completes.
public struct TLSHandshakeOutcome: Sendable, Equatable {
    /// The client showed a certificate, and it chains to the cluster's CA (else the handshake fails).
    public let clientCertificateVerified: Bool
    /// PEER.* commands may be served on this connection (no mutual TLS, or a verified certificate).
    public let peerCommandsAllowed: Bool
}

final class TLSSessionWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let door: NodeTLS.Door
    private let requiresPeerCertificate: Bool
    private let log: RefusalLog
    private let logger: Logger
    /// A handshake takes a round trip or two; one still unfinished after this holds a connection slot
    /// for nothing (a client that opened and stalled), so it is closed rather than left to the idle timeout.
    static let handshakeTimeout = TimeAmount.seconds(10)
    private var deadline: Scheduled<Void>?

    init(door: NodeTLS.Door, requiresPeerCertificate: Bool, log: RefusalLog, logger: Logger) {
        (self.door, self.requiresPeerCertificate, self.log, self.logger) = (door, requiresPeerCertificate, log, logger)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: Self.handshakeTimeout) { bound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        self.deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            let verified = (try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self))?.peerCertificate != nil
            context.fireUserInboundEventTriggered(event)
            context.fireUserInboundEventTriggered(
                TLSHandshakeOutcome(clientCertificateVerified: verified, peerCommandsAllowed: verified || !self.requiresPeerCertificate))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that closes before or during the handshake (a port probe, a plaintext client
        // already refused by PlaintextRefusal) is not worth a line: NIOSSL reports it as a handshake
        // failure ("EOF during handshake") from channelInactive, when the channel is no longer active.
        // A handshake refused while the connection is up (a bad certificate, an alert) is.
        if case .handshakeFailed? = error as? NIOSSLError, context.channel.isActive,
            let unlogged = self.log.admit(.handshake, self.door, context.remoteAddress)
        {
            var metadata: Logger.Metadata = [
                "listener": "\(self.door.rawValue)", "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(error)",
            ]
            if unlogged > 0 { metadata["unlogged_since_last_line"] = "\(unlogged)" }
            self.logger.warning("TLS handshake refused", metadata: metadata)
        }
        context.close(promise: nil)
    }
}
