// The cluster file (YAML, read with Yams): who the nodes are, where they listen, their Redis, the
// cache settings and the ring's vnodes. Every value is validated when the file is read, and a bad file
// is refused with the line and the reason (nodes refuse to start with it; a reload keeps the old one).
// Unknown keys are warnings: a typo should be seen, but not take a cluster down.
import Foundation
import Yams

/// A validated cluster file.
public struct ClusterFile: Sendable, Equatable {
    /// "HOST:PORT".
    public struct HostPort: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var description: String { "\(self.host):\(self.port)" }
    }

    /// One node of the cluster.
    public struct Node: Sendable, Equatable {
        public var id: String
        public var resp: HostPort
        public var http: HostPort
        public var redis: RedisAddress?
        public var weight: Double
        /// This node's own certificate and key (its `tls:` entry), over the `tls:` section's.
        public var tlsIdentity: TLS.Identity? = nil
    }

    public var name: String
    /// Ring points per node × weight: EmbRing.HashRing.defaultVnodes (1024; why there). EmbCluster
    /// does not depend on EmbRing, so the value is repeated here and a test keeps the two equal.
    public var vnodes = 1024
    /// The shared secret of clients and peers (`secret`, `secret_env` or `secret_file`); nil = open.
    public var secret: Secret?
    /// Whether GET /metrics answers without the secret when one is set (`metrics_public`, default false).
    public var metricsPublic = false
    /// The served models, the default first (ClusterFile+Models.swift): `models:`, or the one `model:`.
    public var models: [Model] = [Model.fromPath("models/all-MiniLM-L6-v2")]
    /// The default model's folder.
    public var modelPath: String {
        get { self.models[0].path }
        set { self.models[0] = Model.fromPath(newValue) }
    }
    public var l1MaxBytes = 256 << 20
    public var ttlSeconds: Double = 24 * 3600
    public var earlyExpiryBeta = 1.0
    public var nodes: [Node] = []
    /// TLS on the node's doors and peer links (ClusterFile+TLS.swift); nil = plaintext.
    public var tls: TLS?
    /// Prices of the savings figures, and the audit log (ClusterFile+Savings.swift).
    public var savings = Savings()
    /// Unknown keys, reported but not fatal.
    public var warnings: [ClusterFileError] = []

    /// Reads and validates a file.
    public static func load(path: String) throws -> ClusterFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterFileError(.cannotRead, line: nil, "cannot read the cluster file \(path)")
        }
        let base = (path as NSString).deletingLastPathComponent
        return try Self.parse(String(decoding: data, as: UTF8.self), source: path, baseDirectory: base.isEmpty ? "." : base)
    }

    /// The node `id`; the error lists the ids the file has.
    public func node(_ id: String) throws -> Node {
        guard let node = self.nodes.first(where: { $0.id == id }) else {
            throw ClusterFileError(.unknownNode, line: nil, "node '\(id)' is not in the cluster file (nodes: \(self.nodes.map(\.id).joined(separator: ", ")))")
        }
        return node
    }
}

/// Why a cluster file was refused (or, for unknownKey, warned about).
public struct ClusterFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case cannotRead, syntax, missingField, badValue, badSecret, duplicateNode, duplicateAddress, unknownNode, unknownKey }
    public var code: Code
    /// 1-based line in the file, when known.
    public var line: Int?
    public var message: String

    public init(_ code: Code, line: Int?, _ message: String) {
        self.code = code
        self.line = line
        self.message = message
    }

    public var description: String { self.line.map { "line \($0): \(self.message)" } ?? self.message }
}
