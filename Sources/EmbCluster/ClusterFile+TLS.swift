// The cluster file's `tls:` section: the node's certificate and key, the cluster's CA, and which
// doors speak TLS. PEM material is named here and read by EmbTLS when the node starts and on every
// SIGHUP (so a renewed certificate is picked up by a reload); this file only checks the shape.
//
//   tls:
//     cert: certs/{node}.pem       # this node's certificate chain (PEM); "{node}" = the node's id
//     key: certs/{node}-key.pem    # its private key (PEM, unencrypted)
//     ca: certs/ca.pem             # the cluster's CA: peers' certificates must chain to it
//     # cert_env / key_env / ca_env: an environment variable holding the PEM text instead of a path
//     # peer_cert / peer_key (or _env): the client certificate shown to peers (default: cert / key)
//     resp: true                   # TLS on the RESP port (peer links use it too)
//     http: true                   # HTTPS on the HTTP port
//     peers: mutual                # mutual: PEER.* commands need a client certificate of the CA;
//                                  # one_way: peers are checked by the cluster secret only
//     client_auth: none            # none | optional | required: client certificates on RESP and HTTP
//
// A node entry may carry its own `tls: {cert: ..., key: ...}` (or cert_env / key_env), which wins over
// the section's for that node.
import Foundation
import Yams

extension ClusterFile {
    /// TLS settings; `ClusterFile.tls` holds the section as written, `tls(for:)` one node's view of it.
    public struct TLS: Sendable, Equatable {
        /// Where PEM text comes from: a file (read again on every reload) or an environment variable
        /// (fixed for the life of the process, so a reload cannot renew it).
        public enum PEM: Sendable, Equatable, CustomStringConvertible {
            case file(String)
            case environment(String)

            public var description: String {
                switch self {
                case .file(let path): return "file \(path)"
                case .environment(let name): return "environment variable \(name)"
                }
            }

            func substituting(node id: String) -> PEM {
                switch self {
                case .file(let path): return .file(path.replacingOccurrences(of: "{node}", with: id))
                case .environment(let name): return .environment(name.replacingOccurrences(of: "{node}", with: id))
                }
            }
        }

        /// A certificate chain and its private key.
        public struct Identity: Sendable, Equatable {
            public var certificate: PEM
            public var privateKey: PEM
            public init(certificate: PEM, privateKey: PEM) { (self.certificate, self.privateKey) = (certificate, privateKey) }

            func substituting(node id: String) -> Identity {
                Identity(certificate: self.certificate.substituting(node: id), privateKey: self.privateKey.substituting(node: id))
            }
        }

        /// What a node asks of a peer connecting to its RESP port.
        public enum PeerAuthentication: String, Sendable, Equatable, CaseIterable {
            /// PEER.* commands are refused unless the TLS handshake verified a client certificate of the CA.
            case mutual
            /// Peers use TLS to check the server, and the cluster secret (AUTH) to prove themselves.
            case oneWay = "one_way"
        }

        /// What a node asks of ordinary clients (RESP and HTTP), as Redis's `tls-auth-clients`.
        public enum ClientAuthentication: String, Sendable, Equatable, CaseIterable {
            /// No client certificate is asked for (redis-cli --tls --cacert, the openai client).
            case none
            /// A certificate is asked for; one that is shown must chain to the CA.
            case optional
            /// Every client must show a certificate of the CA.
            case required
        }

        public var identity: Identity
        public var authority: PEM
        /// The client certificate shown to peers; nil = `identity`.
        public var peerIdentity: Identity?
        public var resp = true
        public var http = true
        public var peers = PeerAuthentication.mutual
        public var clientAuth = ClientAuthentication.none

        public init(identity: Identity, authority: PEM) { (self.identity, self.authority) = (identity, authority) }

        /// The certificate shown to peers.
        public var peerClientIdentity: Identity { self.peerIdentity ?? self.identity }
    }

    /// The TLS settings node `id` runs with: the section with that node's own `tls:` entry applied and
    /// "{node}" replaced by its id; nil when the file has no `tls:` section.
    public func tls(for id: String) -> TLS? {
        guard var tls = self.tls else { return nil }
        if let own = self.nodes.first(where: { $0.id == id })?.tlsIdentity { tls.identity = own }
        tls.identity = tls.identity.substituting(node: id)
        tls.authority = tls.authority.substituting(node: id)
        tls.peerIdentity = tls.peerIdentity?.substituting(node: id)
        return tls
    }

    static let tlsKeys: Set<String> = [
        "cert", "cert_env", "key", "key_env", "ca", "ca_env", "peer_cert", "peer_cert_env", "peer_key", "peer_key_env",
        "resp", "http", "peers", "client_auth",
    ]
    static let nodeTLSKeys: Set<String> = ["cert", "cert_env", "key", "key_env"]

    /// Reads the `tls:` section (nil when absent or null).
    static func tls(_ node: Yams.Node?, baseDirectory: String?) throws -> TLS? {
        guard let node, !Self.isNull(node) else { return nil }
        guard let m = node.mapping else { throw ClusterFileError(.badValue, line: Self.line(node), "'tls' must be a mapping") }
        let pem = PEMReader(mapping: m, section: "tls", baseDirectory: baseDirectory)
        let (cert, key, ca) = (try pem.read("cert"), try pem.read("key"), try pem.read("ca"))
        guard let cert, let key, let ca else {
            let missing = zip(["cert", "key", "ca"], [cert, key, ca]).filter { $0.1 == nil }.map(\.0)
            throw ClusterFileError(.missingField, line: Self.line(node),
                                   "tls needs cert, key and ca (each a path, or *_env naming a variable with the PEM); missing: \(missing.joined(separator: ", "))")
        }
        var tls = TLS(identity: TLS.Identity(certificate: cert, privateKey: key), authority: ca)
        switch (try pem.read("peer_cert"), try pem.read("peer_key")) {
        case (nil, nil): break
        case (let c?, let k?): tls.peerIdentity = TLS.Identity(certificate: c, privateKey: k)
        default:
            throw ClusterFileError(.missingField, line: Self.line(node), "tls: give both peer_cert and peer_key (or neither: peers are shown cert and key)")
        }
        for (key, path) in [("resp", \TLS.resp), ("http", \TLS.http)] as [(String, WritableKeyPath<TLS, Bool>)] {
            guard let v = m[key] else { continue }
            guard let b = v.bool else { throw ClusterFileError(.badValue, line: Self.line(v), "tls.\(key) must be true or false") }
            tls[keyPath: path] = b
        }
        if let v = m["peers"] {
            guard let p = v.string.flatMap(TLS.PeerAuthentication.init(rawValue:)) else {
                throw ClusterFileError(.badValue, line: Self.line(v), "tls.peers must be one of: \(TLS.PeerAuthentication.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // Peer links are RESP connections: without TLS on RESP there is nothing to make mutual.
            if p == .mutual && !tls.resp {
                throw ClusterFileError(.badValue, line: Self.line(v), "tls.peers: mutual needs tls.resp: true (peer links use the RESP port)")
            }
            tls.peers = p
        }
        if let v = m["client_auth"] {
            guard let c = v.string.flatMap(TLS.ClientAuthentication.init(rawValue:)) else {
                throw ClusterFileError(.badValue, line: Self.line(v), "tls.client_auth must be one of: \(TLS.ClientAuthentication.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tls.clientAuth = c
        }
        return tls
    }

    /// A node entry's own `tls: {cert, key}` (nil when absent).
    static func nodeTLS(_ node: Yams.Node?, id: String, baseDirectory: String?, warnings: inout [ClusterFileError]) throws -> TLS.Identity? {
        guard let node, !Self.isNull(node) else { return nil }
        guard let m = node.mapping else { throw ClusterFileError(.badValue, line: Self.line(node), "node \(id) tls must be a mapping (cert, key)") }
        for (k, _) in m where !Self.nodeTLSKeys.contains(k.string ?? "") {
            warnings.append(ClusterFileError(.unknownKey, line: Self.line(k), "unknown key 'tls.\(k.string ?? "")' of node \(id) ignored"))
        }
        let pem = PEMReader(mapping: m, section: "node \(id) tls", baseDirectory: baseDirectory)
        guard let cert = try pem.read("cert"), let key = try pem.read("key") else {
            throw ClusterFileError(.missingField, line: Self.line(node), "node \(id) tls needs both cert and key (or cert_env and key_env)")
        }
        return TLS.Identity(certificate: cert, privateKey: key)
    }

    /// Reads `name` (a path) or `name_env` (a variable's name) from one mapping; at most one of the two.
    struct PEMReader {
        let mapping: Yams.Node.Mapping
        let section: String
        let baseDirectory: String?

        func read(_ name: String) throws -> TLS.PEM? {
            let path = self.mapping[name].flatMap { ClusterFile.isNull($0) ? nil : $0 }
            let env = self.mapping["\(name)_env"].flatMap { ClusterFile.isNull($0) ? nil : $0 }
            if path != nil, let env {
                throw ClusterFileError(.badValue, line: ClusterFile.line(env), "\(self.section): give only one of \(name), \(name)_env")
            }
            if let path {
                guard let p = path.string, !p.isEmpty else { throw ClusterFileError(.badValue, line: ClusterFile.line(path), "\(self.section).\(name) must be a path") }
                // Relative to the cluster file's folder, as secret_file is: the file and its certs travel together.
                let full = p.hasPrefix("/") || self.baseDirectory == nil ? p : (self.baseDirectory! as NSString).appendingPathComponent(p)
                return .file(full)
            }
            if let env {
                guard let n = env.string, !n.isEmpty else {
                    throw ClusterFileError(.badValue, line: ClusterFile.line(env), "\(self.section).\(name)_env must name an environment variable")
                }
                return .environment(n)
            }
            return nil
        }
    }
}
