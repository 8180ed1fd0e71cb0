// What two peers agree on before they forward anything (Docs/protocol.md, "Peer protocol"): a link
// opens with `PEER.HELLO <version> <cluster-name> <node-id> <fingerprint>...` and the peer answers
// with its own (the common version, its cluster name, its id, the fingerprints of every model it
// serves). A peer that does not know PEER.HELLO is an older release and speaks version 1; a peer of
// another cluster is refused. Pure functions: the RESP dispatch and PeerLink call them.
import Foundation

/// The peer protocol's versions. 1: the plain PEER.* and PEER.*.IN commands, no handshake (releases
/// before issue 17). 2: PEER.HELLO and the fingerprint-carrying PEER.*.FP commands.
public enum PeerProtocol {
    public static let oldest = 1
    public static let current = 2

    /// The version two nodes speak: the highest both know. Nil when `theirs` is older than anything
    /// this release speaks (never the case today: every release speaks 1).
    public static func common(theirs: Int, mine: Int = PeerProtocol.current) -> Int? {
        let v = min(theirs, mine)
        return v >= Self.oldest ? v : nil
    }
}

/// One side of a handshake: what PEER.HELLO carries and what its reply carries, in the same order.
public struct PeerHello: Equatable, Sendable {
    public var version: Int
    public var cluster: String
    public var node: String
    /// The hex fingerprint of every model the node serves (ModelFingerprint.hash.hex).
    public var fingerprints: [String]

    /// `PEER.HELLO` and its arguments.
    public var command: [String] { ["PEER.HELLO"] + self.fields }
    /// The reply's elements (an array of bulk strings).
    public var fields: [String] { ["\(self.version)", self.cluster, self.node] + self.fingerprints }

    /// A hello from its fields (the command's arguments after the name, or the reply's elements).
    public init?(fields: [String]) {
        guard fields.count >= 3, let version = Int(fields[0]), version >= 1, !fields[2].isEmpty else { return nil }
        (self.version, self.cluster, self.node, self.fingerprints) = (version, fields[1], fields[2], Array(fields.dropFirst(3)))
    }

    public init(version: Int, cluster: String, node: String, fingerprints: [String]) {
        (self.version, self.cluster, self.node, self.fingerprints) = (version, cluster, node, fingerprints)
    }
}

/// Why a handshake was refused: the error code starts the RESP error line.
public enum PeerRefusal: Error, Equatable, CustomStringConvertible {
    /// The peer belongs to another cluster (its file names another `cluster.name`).
    case otherCluster(theirs: String, mine: String)
    /// No version both sides speak.
    case version(Int)
    /// The hello could not be read.
    case malformed

    public var description: String {
        switch self {
        case .otherCluster(let theirs, let mine): return "PEERCLUSTER peer of cluster '\(theirs)' refused by cluster '\(mine)'"
        case .version(let v): return "PEERVERSION no common peer protocol version with \(v) (this node speaks \(PeerProtocol.oldest)...\(PeerProtocol.current))"
        case .malformed: return "ERR syntax: PEER.HELLO <version> <cluster-name> <node-id> <fingerprint>..."
        }
    }

    /// The refusal from an error reply's text, nil for another error.
    public init?(errorLine: String) {
        if errorLine.hasPrefix("PEERCLUSTER") {
            self = .otherCluster(theirs: "?", mine: "?")
        } else if errorLine.hasPrefix("PEERVERSION") {
            self = .version(0)
        } else {
            return nil
        }
    }
}

public enum PeerHandshake {
    /// The owner's answer to a peer's hello: its own hello at the common version, or why not.
    public static func answer(_ theirs: PeerHello, mine: PeerHello) -> Result<PeerHello, PeerRefusal> {
        guard theirs.cluster == mine.cluster else { return .failure(.otherCluster(theirs: theirs.cluster, mine: mine.cluster)) }
        guard let version = PeerProtocol.common(theirs: theirs.version, mine: mine.version) else { return .failure(.version(theirs.version)) }
        var answer = mine
        answer.version = version
        return .success(answer)
    }

    /// The asker's check of the owner's reply: the version to speak, or why the peer is refused.
    public static func accept(_ reply: PeerHello, mine: PeerHello) -> Result<Int, PeerRefusal> {
        guard reply.cluster == mine.cluster else { return .failure(.otherCluster(theirs: reply.cluster, mine: mine.cluster)) }
        guard let version = PeerProtocol.common(theirs: reply.version, mine: mine.version) else { return .failure(.version(reply.version)) }
        return .success(version)
    }

    /// Whether an error reply to PEER.HELLO means "an older release that has no handshake" (version 1).
    public static func isUnknownCommand(_ errorLine: String) -> Bool {
        errorLine.hasPrefix("ERR unknown command")
    }

    /// The fingerprints of a version-1 peer's models, from its `INFO models` text (one
    /// `modelN:name=...,fingerprint=<hex>,...` line per model).
    public static func fingerprints(fromInfo info: String) -> [String] {
        info.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            guard line.hasPrefix("model"), let colon = line.firstIndex(of: ":") else { return nil }
            for field in line[line.index(after: colon)...].split(separator: ",") where field.hasPrefix("fingerprint=") {
                return String(field.dropFirst("fingerprint=".count))
            }
            return nil
        }
    }

    /// The fingerprint an owner is asked for, checked against the ones it serves: the index of the
    /// lane that serves it, or nil (the owner answers PEERMODEL and never a vector).
    public static func lane(serving fingerprint: String, among served: [String]) -> Int? {
        served.firstIndex(of: fingerprint)
    }

    /// The PEERMODEL error line an owner answers for a fingerprint it does not serve.
    public static func modelMismatch(_ fingerprint: String, node: String) -> String {
        "PEERMODEL node \(node) serves no model of fingerprint \(fingerprint)"
    }

    public static func isModelMismatch(_ errorLine: String) -> Bool { errorLine.hasPrefix("PEERMODEL") }
}
