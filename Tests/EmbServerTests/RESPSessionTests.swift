// RESPSession: what HELLO, AUTH, CLIENT SETNAME / SETMODEL and SELECT change and answer, arity and
// NOAUTH, and NOPEERCERT for PEER.* under mutual TLS until the handshake allows them. Passwords are
// judged outside (AuthGate); the session says `.judge` and then takes the verdict.
import EmbNode
import EmbRESP
import EmbServer
import NIOCore
import Testing

@Suite struct RESPSessionTests {
    static let server = try! TestServer.make()

    static func session(password: Bool = false) -> RESPSession {
        RESPSession(id: 7, lanes: Self.server.lanes, passwordSet: password, serverVersion: "0.1.0", callerLabel: { $0 ?? "anonymous" })
    }

    static func args(_ words: String...) -> ArraySlice<ByteBuffer> { ArraySlice(words.map { ByteBuffer(string: $0) }) }

    /// The reply text and change of an outcome that is a reply.
    static func reply(_ outcome: RESPSession.Outcome?) -> (String, RESPSession.Change)? {
        guard case .reply(let reply, let change)? = outcome else { return nil }
        return (String(buffer: reply), change)
    }

    @Test func hello3SwitchesToRESP3AndAnswersTheServerMap() throws {
        var s = Self.session()
        let (text, change) = try #require(Self.reply(s.apply("HELLO", Self.args("3"))))
        #expect(s.version == .resp3 && change.isEmpty)
        #expect(text.hasPrefix("%7\r\n") && text.contains("embcache") && text.contains(":3\r\n") && text.contains(":7\r\n"), "\(text)")
        do {
            let ok = Self.reply(s.apply("HELLO", Self.args("4")))?.0.hasPrefix("-NOPROTO") == true
            #expect(ok)
        }
        do {
            let ok = Self.reply(s.apply("HELLO", Self.args("3", "BOGUS")))?.0.hasPrefix("-ERR Syntax error in HELLO option") == true
            #expect(ok)
        }
    }

    @Test func helloWithSetnameNamesTheCaller() throws {
        var s = Self.session()
        let (_, change) = try #require(Self.reply(s.apply("HELLO", Self.args("2", "SETNAME", "alice"))))
        #expect(change == .caller && s.caller == "alice" && s.clientName == "alice")
    }

    @Test func withAPasswordSetEveryCommandButAuthHelloAndQuitIsRefusedNOAUTH() {
        let s = Self.session(password: true)
        #expect(!s.authenticated)
        #expect(s.refusal("EMBED").map { String(buffer: $0) } == "-NOAUTH Authentication required.\r\n")
        #expect(s.refusal("AUTH") == nil && s.refusal("HELLO") == nil && s.refusal("QUIT") == nil)
        var t = s
        do {
            let ok = Self.reply(t.apply("HELLO", Self.args("3")))?.0.hasPrefix("-NOAUTH HELLO must be called") == true
            #expect(ok)
        }
        #expect(t.version == .resp2, "a refused HELLO changes nothing")
    }

    @Test func authIsJudgedOutsideAndARightPasswordAuthenticates() {
        var s = Self.session(password: true)
        guard case .judge(let password, let pending)? = s.apply("AUTH", Self.args("default", "sekret")) else {
            Issue.record("AUTH not sent to be judged")
            return
        }
        #expect(String(buffer: password) == "sekret" && pending == .auth)
        let (wrong, _) = s.judged(false, .auth)
        #expect(String(buffer: wrong).hasPrefix("-WRONGPASS") && !s.authenticated)
        let (ok, _) = s.judged(true, .auth)
        #expect(String(buffer: ok) == "+OK\r\n" && s.authenticated && s.refusal("EMBED") == nil)
    }

    @Test func helloWithAuthSwitchesProtocolAndNameOnlyWhenThePasswordIsRight() throws {
        var s = Self.session(password: true)
        guard case .judge(_, let pending)? = s.apply("HELLO", Self.args("3", "AUTH", "default", "x", "SETNAME", "bob")) else {
            Issue.record("HELLO AUTH not sent to be judged")
            return
        }
        #expect(pending == .hello(.resp3, name: "bob"))
        _ = s.judged(false, pending)
        #expect(s.version == .resp2 && s.clientName == nil)
        let (reply, change) = s.judged(true, pending)
        #expect(String(buffer: reply).hasPrefix("%7") && s.version == .resp3 && s.caller == "bob" && change == .caller)
    }

    @Test func authArityAndAuthWithoutAPasswordConfigured() {
        var open = Self.session()
        do {
            let ok = Self.reply(open.apply("AUTH", Self.args("a", "b", "c")))?.0 == "-ERR wrong number of arguments for 'auth' command\r\n"
            #expect(ok)
        }
        do {
            let ok = Self.reply(open.apply("AUTH", Self.args("x")))?.0.hasPrefix("-ERR AUTH <password> called without any password configured") == true
            #expect(ok)
        }
        do {
            let ok = Self.reply(open.apply("CLIENT", Self.args()))?.0 == "-ERR wrong number of arguments for 'client' command\r\n"
            #expect(ok)
        }
        do {
            let ok = Self.reply(open.apply("CLIENT", Self.args("SETMODEL")))?.0 == "-ERR wrong number of arguments for 'client|setmodel' command\r\n"
            #expect(ok)
        }
    }

    @Test func clientSetnameNamesTheCallerAndRefusesSpaces() {
        var s = Self.session()
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("SETNAME", "svc-a")))! == ("+OK\r\n", .caller)
            #expect(ok)
        }
        #expect(s.caller == "svc-a")
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("GETNAME")))?.0 == "$5\r\nsvc-a\r\n"
            #expect(ok)
        }
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("SETNAME", "a b")))?.0.hasPrefix("-ERR Client names cannot contain spaces") == true
            #expect(ok)
        }
        #expect(s.caller == "svc-a")
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("ID")))?.0 == ":7\r\n"
            #expect(ok)
        }
    }

    @Test func selectAndSetmodelChangeTheLaneAndSayTheModelChanged() {
        var s = Self.session()
        #expect(s.selection.lane.name == "tiny" && s.accountName == "anonymous")
        do {
            let ok = Self.reply(s.apply("SELECT", Self.args("1")))! == ("+OK\r\n", .model)
            #expect(ok)
        }
        #expect(s.selection.lane.name == "tiny2" && s.accountName == "anonymous@tiny2")
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("SETMODEL", "tiny2:query")))! == ("+OK\r\n", .model)
            #expect(ok)
        }
        #expect(s.selection.prefix == Array("query: ".utf8))
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("GETMODEL")))?.0 == "$11\r\ntiny2:query\r\n"
            #expect(ok)
        }
        do {
            let ok = Self.reply(s.apply("CLIENT", Self.args("SETMODEL", "tiny-alias")))! == ("+OK\r\n", .model)
            #expect(ok)
        }
        #expect(s.selection.lane.name == "tiny")
    }

    @Test func anUnknownModelOrDatabaseIsRefusedNamingWhatIsServedAndChangesNothing() {
        var s = Self.session()
        let unknown = Self.reply(s.apply("CLIENT", Self.args("SETMODEL", "nope")))
        #expect(unknown?.0.hasPrefix("-ERR unknown model 'nope'; this node serves tiny, tiny-alias, tiny2") == true, "\(unknown?.0 ?? "")")
        #expect(unknown?.1 == [])
        do {
            let ok = Self.reply(s.apply("SELECT", Self.args("9")))?.0 == "-ERR DB index is out of range (models: 0=tiny, 1=tiny2)\r\n"
            #expect(ok)
        }
        do {
            let ok = Self.reply(s.apply("SELECT", Self.args()))?.0.hasPrefix("-ERR DB index is out of range") == true
            #expect(ok)
        }
        #expect(s.selection.lane.name == "tiny")
    }

    @Test func aPeerLinkIsMarkedOnce() {
        var s = Self.session()
        do {
            let ok = s.markPeerLink() == .peerLink && s.isPeerLink
            #expect(ok)
        }
        do {
            let ok = s.markPeerLink() == []
            #expect(ok)
        }
    }

    /// Mutual TLS on the RESP port: every PEER.* command is NOPEERCERT, and the connection is never
    /// marked a peer's, until the handshake's outcome allows peer commands; other commands are not touched.
    @Test func peerCommandsNeedTheCertificateUnderMutualTLS() {
        var s = RESPSession(id: 7, lanes: Self.server.lanes, passwordSet: false, serverVersion: "0.1.0", peerCertificateRequired: true,
                            callerLabel: { $0 ?? "anonymous" })
        for name in ["PEER.HELLO", "PEER.MEMBED", "PEER.MEMBED.FP", "PEER.LOCATE.IN", "PEER.INVALIDATE"] {
            let refused = s.peerRefusal(name).map { String(buffer: $0).hasPrefix("-NOPEERCERT") } == true
            #expect(refused, "\(name)")
        }
        #expect(s.peerRefusal("EMBED") == nil && s.peerRefusal("PING") == nil)
        do {
            let ok = s.markPeerLink() == nil && !s.isPeerLink
            #expect(ok)
        }
        s.tlsHandshake(peerCommandsAllowed: false)  // a client without a certificate: still refused
        #expect(s.peerRefusal("PEER.MEMBED") != nil)
        s.tlsHandshake(peerCommandsAllowed: true)
        #expect(s.peerRefusal("PEER.MEMBED") == nil)
        do {
            let ok = s.markPeerLink() == .peerLink && s.isPeerLink
            #expect(ok)
        }
        // Without mutual TLS, peer commands are served from the start.
        #expect(Self.session().peerRefusal("PEER.HELLO") == nil)
    }

    @Test func otherCommandsAreNotTheSessions() {
        var s = Self.session()
        do {
            let ok = s.apply("EMBED", Self.args("x")) == nil
            #expect(ok)
        }
    }
}
