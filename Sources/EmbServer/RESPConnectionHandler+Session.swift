// Session commands: HELLO (protocol 2 or 3, optional AUTH and SETNAME), CLIENT. AUTH and the
// judging of passwords are in RESPConnectionHandler+Auth.
import EmbRESP
import NIOCore

extension RESPConnectionHandler {
    /// HELLO [protover [AUTH user pass] [SETNAME name]]: as Redis; redis-py 8 sends HELLO 3 on connect.
    /// With AUTH, the password is judged as AUTH's is (throttled, maybe later); nothing else changes
    /// unless it is right.
    func hello(_ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        var version = self.version
        var i = 0
        if let first = args.first {
            switch String(buffer: first) {
            case "2": version = .resp2
            case "3": version = .resp3
            default: return self.complete(sequence, Self.error("NOPROTO unsupported protocol version"))
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
                return self.complete(sequence, Self.error("ERR Syntax error in HELLO option '\(option.prefix(40))'"))
            }
        }
        guard let password else {
            guard self.authenticated else { return self.complete(sequence, Self.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")) }
            return self.complete(sequence, self.helloAccepted(version, name: name))
        }
        guard self.server.secret != nil else { return self.complete(sequence, Self.noPasswordConfigured) }
        self.authenticate(password, sequence: sequence, context: context) { handler, ok in
            ok ? handler.helloAccepted(version, name: name) : Self.wrongPassword
        }
    }

    /// Switches to `version`, takes `name`, and answers HELLO's map.
    private func helloAccepted(_ version: RESPVersion, name: String?) -> ByteBuffer {
        if let name { self.setName(name) }
        self.version = version
        var reply = ByteBuffer()
        reply.writeMapHeader(7, version: version)
        reply.writeBulkString("server")
        reply.writeBulkString("embcache")
        reply.writeBulkString("version")
        reply.writeBulkString(self.server.version)
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
        return reply
    }

    /// CLIENT SETNAME | GETNAME | ID | SETINFO.
    func client(_ args: [ByteBuffer]) -> ByteBuffer {
        guard let sub = args.first.map({ String(buffer: $0).uppercased() }) else { return Self.arity("CLIENT") }
        var reply = ByteBuffer()
        switch sub {
        case "SETNAME" where args.count == 2:
            let name = String(buffer: args[1])
            guard !name.contains(" ") else { return Self.error("ERR Client names cannot contain spaces, newlines or special characters.") }
            self.setName(name)
            return Self.ok()
        case "GETNAME":
            if let name = self.clientName { reply.writeBulkString(name) } else { reply.writeNull(version: self.version) }
        case "ID":
            reply.writeRESPInteger(self.id)
        case "SETINFO" where args.count == 3:
            return Self.ok()
        case "SETMODEL", "GETMODEL":
            return self.clientModel(sub, args)
        default:
            return Self.error("ERR unknown subcommand '\(sub.prefix(40))'. Try CLIENT HELP.")
        }
        return reply
    }

    func setName(_ name: String) {
        self.clientName = name
        self.caller = self.server.callerLabel(name)
        self.callerRequests = self.server.metrics.callerCounter(self.caller)
        guard !self.isPeerLink else { return }
        // Hits already counted stay with the old caller; from here on they are the new one's.
        self.commitBurst()
        self.account = self.node.savings.account(self.accountName)
        self.knownKeys.forgetAll()
    }
}
