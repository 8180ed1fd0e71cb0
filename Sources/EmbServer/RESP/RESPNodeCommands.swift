// The RESP commands about the node rather than texts: CLUSTER NODES | RING | RELOAD. A reload reads
// and parses the cluster file and starts the new peers' threads: that is file I/O and thread
// creation, so it runs off the event loop (RESPConnectionHandler.runAsync) and answers when done.
import EmbRESP
import NIOCore

enum RESPNodeCommands {
    /// CLUSTER NODES | RING answered now; RELOAD as async work (`.later`).
    enum Answer {
        case now(ByteBuffer)
        case later(@Sendable () async -> ByteBuffer)
    }

    static func cluster(_ args: ArraySlice<ByteBuffer>, server: ServerContext) -> Answer {
        let sub = args.first.map { String(buffer: $0).uppercased() } ?? ""
        var reply = ByteBuffer()
        switch sub {
        case "NODES":
            let nodes = server.cluster?.nodes ?? [(server.nodeID, "-", "-", true, 0)]
            reply.writeBulkString(nodes.map { "\($0.id) \($0.resp) \($0.http) \($0.up ? "up" : "down") \($0.vnodes)" }.joined(separator: "\n") + "\n")
        case "RING":
            let points = server.cluster?.points ?? []
            reply.writeArrayHeader(points.count)
            for p in points {
                reply.writeArrayHeader(2)
                reply.writeBulkString(p.node)
                reply.writeRESPInteger(Int(bitPattern: UInt(p.hash)))
            }
        case "RELOAD":
            guard let reload = server.reload else { return .now(RESPReply.error("ERR this node was not started from a cluster file")) }
            return .later {
                switch reload() {
                case .success: return RESPReply.ok()
                case .failure(let error): return RESPReply.error("ERR cluster file refused, the old one is kept: \(error)")
                }
            }
        default:
            return .now(RESPReply.error("ERR unknown subcommand '\(sub.prefix(40))'. Try CLUSTER NODES, CLUSTER RING or CLUSTER RELOAD."))
        }
        return .now(reply)
    }
}
