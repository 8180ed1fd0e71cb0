// A node's TLS state: the SSL contexts of its doors (RESP, HTTP) and of its peer links, built from
// the cluster file's `tls:` section and swapped whole on reload (SIGHUP, CLUSTER RELOAD). A context
// is taken once per connection, when its TLS handler is made, so a reload changes only the
// handshakes that start after it: live connections keep the context they began with, and are never
// dropped by a reload.
import EmbCluster
import Foundation
import Logging
import NIOSSL
import Synchronization

public final class NodeTLS: Sendable {
    /// A listener of the node.
    public enum Door: String, Sendable { case resp, http }

    /// Everything one reload builds, replaced as a whole.
    struct Contexts: Sendable {
        let settings: ClusterFile.TLS
        let resp: NIOSSLContext?
        let http: NIOSSLContext?
        let peerClient: NIOSSLContext?
        let summary: String
        let notAfter: Date
    }

    private let current: Mutex<Contexts>
    /// Refused plaintext clients and handshakes, logged once per address and minute, and counted.
    public let refusals = RefusalLog()
    /// Successful reloads since start.
    private let reloadCount = Atomic<Int>(0)

    /// Reads the material `settings` names and builds the contexts; throws TLSConfigurationError.
    /// `now` judges the certificates' validity dates (a test's clock; the node's is the real one).
    public init(_ settings: ClusterFile.TLS, now: Date = Date()) throws {
        self.current = Mutex(try Self.build(settings, now: now))
    }

    /// Rebuilds from `settings` (the files are read again: a renewed certificate is picked up). On an
    /// error the contexts in use stay. Turning TLS on or off a door needs a restart: its listener's
    /// clients would otherwise be cut off mid-stream.
    public func reload(_ settings: ClusterFile.TLS, now: Date = Date()) throws {
        let old = self.settings
        guard settings.resp == old.resp, settings.http == old.http else {
            throw TLSConfigurationError("tls.resp / tls.http changed: turning TLS on or off a port needs a restart (the running contexts are kept)")
        }
        let next = try Self.build(settings, now: now)
        self.current.withLock { $0 = next }
        self.reloadCount.add(1, ordering: .relaxed)
    }

    /// Successful reloads since start (INFO tls).
    public var reloads: Int { self.reloadCount.load(ordering: .relaxed) }

    /// When the served certificate expires (INFO tls: an operator's alert before it does).
    public var certificateNotAfter: Date { self.current.withLock { $0.notAfter } }

    /// The settings in force.
    public var settings: ClusterFile.TLS { self.current.withLock { $0.settings } }

    /// The leaf certificate served, for the start and reload log lines.
    public var summary: String { self.current.withLock { $0.summary } }

    /// The context new connections to `door` handshake with; nil when that door is plaintext.
    public func serverContext(for door: Door) -> NIOSSLContext? {
        self.current.withLock { door == .resp ? $0.resp : $0.http }
    }

    /// The client context of peer links (the cluster CA as the only trust root, the node's client
    /// certificate); nil when the RESP port, which peers talk to, is plaintext.
    public var peerClientContext: NIOSSLContext? { self.current.withLock { $0.peerClient } }

    /// Whether a RESP connection must have shown a client certificate of the CA to send PEER.* commands.
    public var requiresPeerCertificate: Bool {
        self.current.withLock { $0.settings.resp && $0.settings.peers == .mutual }
    }

    static func build(_ settings: ClusterFile.TLS, now: Date) throws -> Contexts {
        let node = try TLSMaterial.identity(settings.identity, certKey: "tls.cert", keyKey: "tls.key", now: now)
        let peer = settings.peerIdentity == nil ? node
            : try TLSMaterial.identity(settings.peerClientIdentity, certKey: "tls.peer_cert", keyKey: "tls.peer_key", now: now)
        let authority = try TLSMaterial.certificates(settings.authority, key: "tls.ca", now: now)
        func server(_ verification: CertificateVerification) throws -> NIOSSLContext {
            var c = TLSConfiguration.makeServerConfiguration(certificateChain: node.chain.map { .certificate($0) }, privateKey: .privateKey(node.key))
            c.minimumTLSVersion = .tlsv12
            c.trustRoots = .certificates(authority)
            c.certificateVerification = verification
            return try Self.context(c, what: "the server context")
        }
        // A server never checks a client's name (only that its certificate chains to the CA).
        let clientCheck: CertificateVerification = switch settings.clientAuth {
        case .none: .none
        case .optional: .optionalVerification
        case .required: .noHostnameVerification
        }
        // Peers share the RESP port with clients: with mutual TLS a certificate is asked of everyone,
        // checked when shown, and PEER.* commands are refused on connections that showed none.
        let respCheck = settings.peers == .mutual && settings.clientAuth == .none ? .optionalVerification : clientCheck
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.trustRoots = .certificates(authority)
        client.certificateChain = peer.chain.map { .certificate($0) }
        client.privateKey = .privateKey(peer.key)
        client.certificateVerification = .fullVerification
        return Contexts(
            settings: settings,
            resp: settings.resp ? try server(respCheck) : nil,
            http: settings.http ? try server(clientCheck) : nil,
            peerClient: settings.resp ? try Self.context(client, what: "the peer client context") : nil,
            summary: node.summary,
            notAfter: node.notAfter
        )
    }

    private static func context(_ configuration: TLSConfiguration, what: String) throws -> NIOSSLContext {
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw TLSConfigurationError("tls: cannot build \(what): \(error)")
        }
    }
}

extension NodeTLS {
    /// A reload's TLS step: `node`'s contexts rebuilt from `next` (the new file's settings for this
    /// node). Adding or removing the `tls:` section needs a restart, as turning a door's TLS on or off does.
    public static func reload(_ node: NodeTLS?, _ next: ClusterFile.TLS?, logger: Logger) throws {
        switch (node, next) {
        case (nil, nil): return
        case (nil, _?): throw TLSConfigurationError("the new cluster file adds a 'tls' section: turning TLS on needs a restart")
        case (_?, nil): throw TLSConfigurationError("the new cluster file has no 'tls' section: turning TLS off needs a restart")
        case (let node?, let next?):
            try node.reload(next)
            logger.info("TLS contexts reloaded: new handshakes use them, open connections keep theirs",
                        metadata: ["tls.certificate": "\(node.summary)"])
        }
    }
}
