// Reading the PEM a `tls:` section names, with errors an operator can act on: which key of the
// cluster file, which file or variable, and what is wrong with it (unreadable, not PEM, expired,
// a key that does not go with its certificate). Read at start and again on every reload.
import EmbCluster
import Foundation
import NIOSSL

/// Why TLS settings were refused (at start the node does not start; on reload the old ones stay).
public struct TLSConfigurationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}

/// A certificate chain, its key, and where they came from (for messages).
struct LoadedIdentity {
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey
    let source: String

    /// When the leaf expires.
    var notAfter: Date { Date(timeIntervalSince1970: TimeInterval(self.chain[0].notValidAfter)) }

    /// "CN=..., SAN ..., valid until ..." of the leaf, for the start and reload log lines.
    var summary: String { "\(self.chain[0]) valid until \(ISO8601DateFormatter().string(from: self.notAfter))" }
}

enum TLSMaterial {
    /// The longest PEM file read: a chain of a few certificates is a few KiB.
    static let maxFileBytes = 1 << 20

    /// The PEM text of `source` (`key` names it in errors: "tls.cert").
    static func text(_ source: ClusterFile.TLS.PEM, key: String,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8] {
        switch source {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw TLSConfigurationError("\(key): environment variable \(name) is not set or empty")
            }
            return Array(value.utf8)
        case .file(let path):
            // Bounded, as secret files are: a path to a device must not hang the node at start.
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw TLSConfigurationError("\(key): cannot read \(path) (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))")
            }
            defer { try? handle.close() }
            guard let data = try? handle.read(upToCount: Self.maxFileBytes + 1), data.count <= Self.maxFileBytes else {
                throw TLSConfigurationError("\(key): \(path) is unreadable or over \(Self.maxFileBytes) bytes")
            }
            return Array(data)
        }
    }

    /// The certificates of `source` (at least one).
    static func certificates(_ source: ClusterFile.TLS.PEM, key: String, now: Date) throws -> [NIOSSLCertificate] {
        let pem = try Self.text(source, key: key)
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(pem), let leaf = chain.first else {
            throw TLSConfigurationError("\(key): \(source) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        let format = ISO8601DateFormatter()
        guard notAfter > now else { throw TLSConfigurationError("\(key): the certificate in \(source) expired on \(format.string(from: notAfter))") }
        guard notBefore <= now else { throw TLSConfigurationError("\(key): the certificate in \(source) is not valid before \(format.string(from: notBefore))") }
        return chain
    }

    /// A certificate chain and its private key, checked to go together.
    static func identity(_ identity: ClusterFile.TLS.Identity, certKey: String, keyKey: String, now: Date) throws -> LoadedIdentity {
        let chain = try Self.certificates(identity.certificate, key: certKey, now: now)
        let pem = try Self.text(identity.privateKey, key: keyKey)
        guard let key = try? NIOSSLPrivateKey(bytes: pem, format: .pem) else {
            throw TLSConfigurationError("\(keyKey): \(identity.privateKey) holds no usable PEM private key (an encrypted key is not supported)")
        }
        // BoringSSL refuses a key of another certificate when a context is made with both: ask it now,
        // so the message names the two keys rather than a handshake failing later.
        var probe = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        probe.certificateVerification = .none
        do { _ = try NIOSSLContext(configuration: probe) } catch {
            throw TLSConfigurationError("\(keyKey) (\(identity.privateKey)) is not the key of \(certKey) (\(identity.certificate)): \(error)")
        }
        return LoadedIdentity(chain: chain, key: key, source: "\(identity.certificate)")
    }
}
