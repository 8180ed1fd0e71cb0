// The login to Redis: a password, and with Redis 6 ACLs a user name. Sent with AUTH on every new
// connection, before SELECT (a Redis with `requirepass` refuses everything else until then). The
// password never prints: this type's description and mirror say "<redacted>".

/// A Redis login (AUTH [user] password).
public struct RedisCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// ACL user; nil = the default user (`AUTH password`).
    public var username: String?
    public var password: String

    public init(username: String?, password: String) {
        self.username = username
        self.password = password
    }

    /// The AUTH command's arguments.
    public var authCommand: [[UInt8]] {
        [Array("AUTH".utf8)] + (self.username.map { [Array($0.utf8)] } ?? []) + [Array(self.password.utf8)]
    }

    public var description: String { "\(self.username ?? "default"):<redacted>" }
    public var debugDescription: String { self.description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// Why a connection to Redis (or a peer) could not be made ready.
public struct RedisConnectError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable { case unreachable, authRefused, selectRefused }
    public var code: Code
    /// Redis's own error text, when it sent one (it never contains the password).
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code.rawValue): \(self.message)" }
}
