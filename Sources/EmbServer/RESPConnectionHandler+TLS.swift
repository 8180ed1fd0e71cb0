// Mutual TLS on the RESP port: peers and clients share it, so a certificate is asked of every
// connection but required only for PEER.* commands (tls.peers: mutual). The TLS layer says at the
// end of the handshake whether a certificate of the cluster's CA was shown (EmbTLS.TLSHandshakeOutcome).
import EmbTLS
import NIOCore

extension RESPConnectionHandler {
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let outcome = event as? TLSHandshakeOutcome { self.mayActAsPeer = outcome.peerCommandsAllowed }
        context.fireUserInboundEventTriggered(event)
    }

    /// The reply to a PEER.* command on a connection that may not send them.
    static let peerCertificateRequired = RESPConnectionHandler.error(
        "NOPEERCERT peer commands need a TLS client certificate of the cluster's CA (tls.peers: mutual)")
}
