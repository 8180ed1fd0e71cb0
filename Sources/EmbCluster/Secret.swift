// A shared secret (the cluster's, or a Redis password) and where it comes from.
//
// Two jobs, both about not leaking it. The value never prints: `description`, `debugDescription` and
// the mirror all say "<redacted>", so a secret that ends up in a log line, an error or an INFO field
// by mistake shows nothing. And comparing it takes the same time whatever the candidate holds: the
// loop runs over the secret's own length and folds every byte difference (and a length difference)
// into one accumulator, so a client cannot learn a prefix from how fast it was refused (the classic
// timing attack on `==`, which returns at the first differing byte).
import Foundation

/// A secret value. Prints as "<redacted>"; compares in constant time (see the file comment).
public struct Secret: Sendable, Equatable, ExpressibleByStringLiteral, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret's bytes: for sending it (AUTH to Redis or a peer), never for printing.
    public let bytes: [UInt8]

    public init(_ value: String) { self.bytes = Array(value.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The value as text, for the wire (AUTH arguments). Do not log it.
    public var reveal: String { String(decoding: self.bytes, as: UTF8.self) }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }

    /// Whether `candidate` is the secret, in time that depends only on the secret's length.
    public func matches<C: Collection>(_ candidate: C) -> Bool where C.Element == UInt8 {
        let given = Array(candidate)
        var difference: UInt8 = given.count == self.bytes.count ? 0 : 1
        for i in 0..<self.bytes.count {
            // Past the candidate's end, compare with its first byte (or 0): the same work either way.
            let c = i < given.count ? given[i] : (given.first ?? 0)
            difference |= self.bytes[i] ^ c
        }
        return difference == 0 && !self.bytes.isEmpty
    }

    public static func == (a: Secret, b: Secret) -> Bool { a.matches(b.bytes) }
}

/// Where a secret is read from: the YAML itself, an environment variable, or a file (whose trailing
/// newline is dropped, as `echo secret > file` writes one). Keeping it out of the cluster file lets
/// that file live in git while the secret lives in the orchestrator's secret store.
public enum SecretSource: Sendable, Equatable {
    case inline(Secret)
    case environment(String)
    case file(String)

    /// The longest secret file read.
    public static let maxFileBytes = 64 << 10

    /// Reads the secret. Errors name the variable or file, never a value.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment, relativeTo base: String? = nil,
                        what: String, line: Int? = nil) throws -> Secret {
        switch self {
        case .inline(let s):
            return s
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw ClusterFileError(.badSecret, line: line, "\(what): environment variable \(name) is not set or empty")
            }
            return Secret(value)
        case .file(let path):
            let full = path.hasPrefix("/") || base == nil ? path : (base! as NSString).appendingPathComponent(path)
            // Bounded: a secret is short, and a path to a device or a huge file must not hang or fill
            // a node at start (the fuzzer tried /dev/zero).
            guard let handle = FileHandle(forReadingAtPath: full), let data = try? handle.read(upToCount: Self.maxFileBytes + 1) else {
                throw ClusterFileError(.badSecret, line: line, "\(what): cannot read the secret file \(full)")
            }
            try? handle.close()
            guard data.count <= Self.maxFileBytes else {
                throw ClusterFileError(.badSecret, line: line, "\(what): the secret file \(full) is over \(Self.maxFileBytes) bytes")
            }
            var bytes = Array(data)
            while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
            guard !bytes.isEmpty else { throw ClusterFileError(.badSecret, line: line, "\(what): the secret file \(full) is empty") }
            return Secret(String(decoding: bytes, as: UTF8.self))
        }
    }
}
