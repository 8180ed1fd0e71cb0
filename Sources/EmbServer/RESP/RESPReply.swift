// The replies the RESP door gives in more than one place, worded once (as Redis words them, so
// clients that match on the text keep working).
import EmbNode
import EmbRESP
import NIOCore

package enum RESPReply {
    package static func ok() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeSimpleString("OK")
        return b
    }

    /// An error reply from "CODE message" (the code is the first word).
    package static func error(_ line: String) -> ByteBuffer {
        let space = line.firstIndex(of: " ") ?? line.endIndex
        var b = ByteBuffer()
        b.writeError(code: String(line[..<space]), message: String(line[space...].dropFirst()))
        return b
    }

    package static func arity(_ name: String) -> ByteBuffer { Self.error("ERR wrong number of arguments for '\(name.lowercased())' command") }

    static func nodeError(_ error: any Error) -> ByteBuffer {
        Self.error((error as? NodeError)?.redisError ?? "ERR internal error")
    }

    package static let noAuth = RESPReply.error("NOAUTH Authentication required.")
    package static let timedOut = RESPReply.error("BUSY request timed out, try again later")
    package static let wrongPassword = RESPReply.error("WRONGPASS invalid username-password pair or user is disabled.")
    package static let noPasswordConfigured = RESPReply.error(
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    package static let tooManyAuthFailures = RESPReply.error("ERR too many failed AUTH attempts from this address; try again later")
    package static let helloNeedsAuth = RESPReply.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")

    /// The reply to a PEER.* command on a connection that may not send them (RESPSession.peerRefusal).
    package static let peerCertificateRequired = RESPReply.error(
        "NOPEERCERT peer commands need a TLS client certificate of the cluster's CA (tls.peers: mutual)")

    /// Known command names keep their own label; anything else is "unknown" (bounded label set).
    static func metricName(_ name: String) -> String {
        ["EMBED", "MEMBED", "EMBED.LOCATE", "INVALIDATE", "PING", "HELLO", "AUTH", "CLIENT", "INFO", "QUIT", "SELECT", "COMMAND", "ECHO",
         "PEER.MEMBED", "PEER.LOCATE", "PEER.INVALIDATE", "CLUSTER", "EMBED.WARM", "SAVINGS",
         "PEER.HELLO", "PEER.MEMBED.FP"]
            .contains(name) ? name.lowercased() : "unknown"
    }
}
