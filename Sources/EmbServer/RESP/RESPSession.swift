// Who is on the other end of a RESP connection, and what they chose: protocol version (HELLO 2|3),
// authentication (AUTH, HELLO ... AUTH), client name (CLIENT SETNAME, HELLO ... SETNAME; the metrics
// and savings caller), the model (CLIENT SETMODEL name, SELECT n, as a Redis database number from a
// URL's /n) and whether it is a peer's link, or may be one (on a mutual-TLS port, PEER.* commands
// need a client certificate of the cluster's CA: NOPEERCERT until the TLS handshake shows one). The session commands are answered here as a value
// type: `apply` returns the reply and what changed, and the handler re-binds what depends on it
// (the hit path's lane, memo and savings account) in one place. A password is not judged here:
// `apply` says `.judge`, the handler asks the AuthGate (which may make it wait), then `judged`.
import EmbNode
import EmbRESP
import NIOCore

/// One RESP connection's session state and its commands.
package struct RESPSession {
    /// What a session command changed, for the handler to re-bind.
    package struct Change: OptionSet, Sendable {
        package let rawValue: Int
        package init(rawValue: Int) { self.rawValue = rawValue }
        /// The caller (client name) changed: its metrics label and savings account.
        package static let caller = Change(rawValue: 1)
        /// The model changed: the lane, its key memo, the account.
        package static let model = Change(rawValue: 2)
        /// The connection turned out to be a peer's link: its texts are charged to the peers.
        package static let peerLink = Change(rawValue: 4)
    }

    /// What answers a password once it is judged.
    package enum PendingAuth: Equatable, Sendable {
        case auth
        case hello(RESPVersion, name: String?)
    }

    package enum Outcome {
        case reply(ByteBuffer, Change)
        /// A password to judge (AuthGate); then `judged(_:_:)`.
        case judge(password: ByteBuffer, then: PendingAuth)
    }

    package let id: Int
    package private(set) var version = RESPVersion.resp2
    package private(set) var authenticated: Bool
    package private(set) var clientName: String?
    /// The caller's metrics label (bounded: see ServerContext.callerLabel).
    package private(set) var caller = "anonymous"
    package private(set) var selection: ModelSelection
    package private(set) var isPeerLink = false
    /// Whether PEER.* commands are served here: false on a mutual-TLS port until the handshake shows
    /// a client certificate of the cluster's CA (EmbTLS.TLSHandshakeOutcome, `tlsHandshake`).
    package private(set) var mayActAsPeer: Bool
    private let lanes: LaneResolver
    private let passwordSet: Bool
    private let serverVersion: String
    private let callerLabel: @Sendable (String?) -> String

    package init(id: Int, lanes: LaneResolver, passwordSet: Bool, serverVersion: String, peerCertificateRequired: Bool = false,
                 callerLabel: @escaping @Sendable (String?) -> String) {
        self.id = id
        self.mayActAsPeer = !peerCertificateRequired
        self.lanes = lanes
        self.passwordSet = passwordSet
        self.authenticated = !passwordSet
        self.serverVersion = serverVersion
        self.callerLabel = callerLabel
        self.selection = lanes.defaultSelection
    }

    /// The savings account the connection's texts go to (ModelLane.accountName).
    package var accountName: String { self.selection.lane.accountName(for: self.caller) }

    /// NOAUTH for a command an unauthenticated connection may not run (all but AUTH, HELLO, QUIT).
    package func refusal(_ upperName: String) -> ByteBuffer? {
        guard !self.authenticated, upperName != "AUTH", upperName != "HELLO", upperName != "QUIT" else { return nil }
        return RESPReply.noAuth
    }

    /// NOPEERCERT for a PEER.* command on a connection that may not send them (it stays a client's).
    package func peerRefusal(_ upperName: String) -> ByteBuffer? {
        guard !self.mayActAsPeer, upperName.hasPrefix("PEER.") else { return nil }
        return RESPReply.peerCertificateRequired
    }

    /// The TLS handshake ended: whether the client showed a certificate that allows PEER.* commands.
    package mutating func tlsHandshake(peerCommandsAllowed: Bool) {
        self.mayActAsPeer = peerCommandsAllowed
    }

    /// Runs a session command (`upperName` and its arguments after the name); nil for any other.
    package mutating func apply(_ upperName: String, _ args: ArraySlice<ByteBuffer>) -> Outcome? {
        switch upperName {
        case "HELLO": return self.hello(Array(args))
        case "AUTH":
            guard args.count == 1 || args.count == 2 else { return .reply(RESPReply.arity("AUTH"), []) }
            guard self.passwordSet else { return .reply(RESPReply.noPasswordConfigured, []) }
            return .judge(password: args[args.endIndex - 1], then: .auth)
        case "CLIENT": return self.client(Array(args))
        case "SELECT": return self.selectDatabase(Array(args))
        default: return nil
        }
    }

    /// The password of a pending AUTH or HELLO was judged: a right one authenticates the connection.
    package mutating func judged(_ accepted: Bool, _ pending: PendingAuth) -> (ByteBuffer, Change) {
        guard accepted else { return (RESPReply.wrongPassword, []) }
        self.authenticated = true
        switch pending {
        case .auth: return (RESPReply.ok(), [])
        case .hello(let version, let name): return self.helloAccepted(version, name: name)
        }
    }

    /// The connection sent a PEER.* command: it is a peer's link (its texts are charged to the peers).
    /// Nil when it may not act as one (mutual TLS without the CA's certificate): the command is
    /// refused with NOPEERCERT, so a fast path must not serve it.
    @inline(__always)
    package mutating func markPeerLink() -> Change? {
        guard self.mayActAsPeer else { return nil }
        guard !self.isPeerLink else { return [] }
        self.isPeerLink = true
        return .peerLink
    }

    /// HELLO [protover [AUTH user pass] [SETNAME name]]: as Redis; redis-py 8 sends HELLO 3 on connect.
    /// With AUTH, nothing changes unless the password is right.
    private mutating func hello(_ args: [ByteBuffer]) -> Outcome {
        var version = self.version
        var i = 0
        if let first = args.first {
            switch String(buffer: first) {
            case "2": version = .resp2
            case "3": version = .resp3
            default: return .reply(RESPReply.error("NOPROTO unsupported protocol version"), [])
            }
            i = 1
        }
        var password: ByteBuffer? = nil
        var name: String? = nil
        while i < args.count {
            let option = String(buffer: args[i]).uppercased()
            if option == "AUTH", i + 2 < args.count {
                password = args[i + 2]
                i += 3
            } else if option == "SETNAME", i + 1 < args.count {
                name = String(buffer: args[i + 1])
                i += 2
            } else {
                return .reply(RESPReply.error("ERR Syntax error in HELLO option '\(option.prefix(40))'"), [])
            }
        }
        guard let password else {
            guard self.authenticated else { return .reply(RESPReply.helloNeedsAuth, []) }
            let (reply, change) = self.helloAccepted(version, name: name)
            return .reply(reply, change)
        }
        guard self.passwordSet else { return .reply(RESPReply.noPasswordConfigured, []) }
        return .judge(password: password, then: .hello(version, name: name))
    }

    /// Switches to `version`, takes `name`, and answers HELLO's map.
    private mutating func helloAccepted(_ version: RESPVersion, name: String?) -> (ByteBuffer, Change) {
        let change: Change = name.map { self.setName($0) } ?? []
        self.version = version
        var reply = ByteBuffer()
        reply.writeMapHeader(7, version: version)
        reply.writeBulkString("server")
        reply.writeBulkString("embcache")
        reply.writeBulkString("version")
        reply.writeBulkString(self.serverVersion)
        reply.writeBulkString("proto")
        reply.writeRESPInteger(version == .resp3 ? 3 : 2)
        reply.writeBulkString("id")
        reply.writeRESPInteger(self.id)
        reply.writeBulkString("mode")
        reply.writeBulkString("standalone")
        reply.writeBulkString("role")
        reply.writeBulkString("master")
        reply.writeBulkString("modules")
        reply.writeArrayHeader(0)
        return (reply, change)
    }

    /// CLIENT SETNAME | GETNAME | ID | SETINFO | SETMODEL | GETMODEL.
    private mutating func client(_ args: [ByteBuffer]) -> Outcome {
        guard let sub = args.first.map({ String(buffer: $0).uppercased() }) else { return .reply(RESPReply.arity("CLIENT"), []) }
        var reply = ByteBuffer()
        switch sub {
        case "SETNAME" where args.count == 2:
            let name = String(buffer: args[1])
            guard !name.contains(" ") else { return .reply(RESPReply.error("ERR Client names cannot contain spaces, newlines or special characters."), []) }
            return .reply(RESPReply.ok(), self.setName(name))
        case "GETNAME":
            if let name = self.clientName { reply.writeBulkString(name) } else { reply.writeNull(version: self.version) }
        case "ID":
            reply.writeRESPInteger(self.id)
        case "SETINFO" where args.count == 3:
            return .reply(RESPReply.ok(), [])
        case "GETMODEL":
            reply.writeBulkString(self.selection.requestedName)
        case "SETMODEL":
            guard args.count == 2 else { return .reply(RESPReply.arity("client|setmodel"), []) }
            switch self.lanes.select(String(buffer: args[1])) {
            case .success(let selection):
                self.selection = selection
                return .reply(RESPReply.ok(), .model)
            case .failure(let unknown):
                return .reply(RESPReply.error("ERR " + unknown.message), [])
            }
        default:
            return .reply(RESPReply.error("ERR unknown subcommand '\(sub.prefix(40))'. Try CLIENT HELP."), [])
        }
        return .reply(reply, [])
    }

    /// SELECT n: the n-th model of the cluster file (0 = the default), as a Redis database number.
    private mutating func selectDatabase(_ args: [ByteBuffer]) -> Outcome {
        guard args.count == 1, let n = Int(String(buffer: args[0])), let selection = self.lanes.database(n) else {
            return .reply(RESPReply.error("ERR DB index is out of range (models: \(self.lanes.databaseList))"), [])
        }
        self.selection = selection
        return .reply(RESPReply.ok(), .model)
    }

    private mutating func setName(_ name: String) -> Change {
        self.clientName = name
        self.caller = self.callerLabel(name)
        return .caller
    }
}
