// The two places TLS enters a NIO pipeline, each one call:
// - a node's listener: `try channel.pipeline.syncOperations.addTLSIfConfigured(tls, door: .resp, logger:)`
//   first in the child-channel initializer (PlaintextRefusal, the TLS server handler, TLSSessionWatch);
// - a peer link: `try channel.pipeline.syncOperations.addPeerTLS(tls, host:)` first in the client
//   channel's initializer (a TLS client handler that checks the peer's certificate against the
//   cluster's CA and its name or IP against `host`, and shows this node's client certificate).
import Foundation
import Logging
import NIOCore
import NIOSSL

extension ChannelPipeline.SynchronousOperations {
    /// Puts TLS in front of a door's handlers when `tls` says the door speaks it; does nothing otherwise.
    public func addTLSIfConfigured(_ tls: NodeTLS?, door: NodeTLS.Door, logger: Logger) throws {
        guard let tls, let context = tls.serverContext(for: door) else { return }
        try self.addHandler(PlaintextRefusal(door: door, log: tls.refusals, logger: logger))
        try self.addHandler(NIOSSLServerHandler(context: context))
        try self.addHandler(TLSSessionWatch(door: door, requiresPeerCertificate: door == .resp && tls.requiresPeerCertificate,
                                            log: tls.refusals, logger: logger))
    }

    /// Puts a TLS client handler in a peer link's pipeline (before the link's RESP handler) when the
    /// peers' RESP ports speak TLS; does nothing when `tls` is nil or has TLS off on RESP.
    /// `host` is the peer's address from the cluster file: a name is sent as SNI and checked against
    /// the certificate's DNS names; an IP address is checked against its IP SANs (no SNI for IPs).
    public func addPeerTLS(_ tls: NodeTLS?, host: String) throws {
        guard let tls, let context = tls.peerClientContext else { return }
        try self.addHandler(NIOSSLClientHandler(context: context, serverHostname: Self.isIPAddress(host) ? nil : host))
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
