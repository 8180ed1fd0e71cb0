// The internal PEER.* commands a peer sends on its one link to the owner of a key (Cluster/PeerLink,
// ClusterRouter+Links; Docs/protocol.md): served here as owner, never forwarded again.
//   PEER.HELLO version cluster node fingerprint...   the link's handshake (peer protocol version 2):
//                                        answered with this node's own hello at the common version,
//                                        or refused (another cluster, no common version) and closed;
//   PEER.MEMBED.FP | PEER.LOCATE.FP | PEER.INVALIDATE.FP fingerprint text...: served by the lane of
//                                        that model fingerprint, or refused with PEERMODEL, never with
//                                        another checkpoint's vector (version 2);
//   PEER.MEMBED text...                  the default model's texts (version 1; an all-hit batch is
//                                        answered on the loop, the fast frame too);
//   PEER.LOCATE text | PEER.INVALIDATE text...
//   PEER.MEMBED.IN | PEER.LOCATE.IN | PEER.INVALIDATE.IN name text...: a model other than the default,
//                                        served by that model's lane (version 1).
// The handshake's and the fingerprint's checks are PeerHandshake's pure functions; this is the dispatch.
// A connection that sends one is a peer's link: its texts are charged to the peers' pseudo-caller.
// On a mutual-TLS port a connection without the cluster CA's certificate never gets here: `run`
// answers NOPEERCERT first (RESPSession.peerRefusal).
import EmbNode
import EmbRESP
import NIOCore

enum RESPPeerCommands {
    /// Runs `name` if it is a PEER.* command (true); false for any other.
    static func run(_ name: String, _ args: [ByteBuffer], sequence: Int, handler: RESPConnectionHandler, context: ChannelHandlerContext) -> Bool {
        switch name {
        case "PEER.HELLO":
            handler.markPeerLink()
            Self.hello(args, sequence: sequence, handler: handler)
        case "PEER.MEMBED.FP", "PEER.LOCATE.FP", "PEER.INVALIDATE.FP":
            handler.markPeerLink()
            guard args.count >= 3 else { return Self.refuse(name, sequence, handler) }
            let fingerprint = String(buffer: args[1])
            let lanes = handler.server.models.lanes
            guard let index = PeerHandshake.lane(serving: fingerprint, among: lanes.map(\.fingerprint)) else {
                handler.replies.complete(sequence, RESPReply.error(PeerHandshake.modelMismatch(fingerprint, node: handler.server.nodeID)))
                return true
            }
            // The connection's own lane answers hits on the event loop, as PEER.MEMBED does.
            if name == "PEER.MEMBED.FP", index == handler.session.selection.lane.index, handler.session.selection.prefix.isEmpty,
                handler.serveAllFromL1(args.dropFirst(2), owned: true, sequence: sequence)
            {
                return true
            }
            Self.serve(name, texts: args.dropFirst(2).map { Array($0.readableBytesView) }, lane: lanes[index].node, sequence: sequence,
                       handler: handler, context: context)
        case "PEER.MEMBED":
            guard args.count >= 2 else { return Self.refuse(name, sequence, handler) }
            handler.markPeerLink()
            if handler.serveAllFromL1(args.dropFirst(), owned: true, sequence: sequence) { return true }
            handler.runLookup(args.dropFirst().map { Array($0.readableBytesView) }, reply: .peerVectors, forwarded: true, sequence: sequence,
                              context: context)
        case "PEER.LOCATE":
            handler.markPeerLink()
            guard args.count == 2 else { return Self.refuse(name, sequence, handler) }
            Self.locate(Array(args[1].readableBytesView), lane: handler.hits.lane, sequence: sequence, handler: handler, context: context)
        case "PEER.INVALIDATE":
            handler.markPeerLink()
            guard args.count >= 2 else { return Self.refuse(name, sequence, handler) }
            Self.invalidate(args.dropFirst().map { Array($0.readableBytesView) }, lane: handler.hits.lane, sequence: sequence, handler: handler,
                            context: context)
        case "PEER.MEMBED.IN", "PEER.LOCATE.IN", "PEER.INVALIDATE.IN":
            handler.markPeerLink()
            guard args.count >= 3 else { return Self.refuse(name, sequence, handler) }
            let modelName = String(buffer: args[1])
            guard let lane = handler.server.lanes.lane(named: modelName) else {
                let unknown = handler.server.lanes.unknown(modelName)
                handler.replies.complete(sequence, RESPReply.error("ERR \(unknown.message) (peers must serve the same models)"))
                return true
            }
            Self.serve(name, texts: args.dropFirst(2).map { Array($0.readableBytesView) }, lane: lane.node, sequence: sequence,
                       handler: handler, context: context)
        default:
            return false
        }
        return true
    }

    /// PEER.HELLO version cluster-name node-id fingerprint...: this node's hello at the common version,
    /// or the refusal (counted by the cluster), after which the connection closes.
    private static func hello(_ args: [ByteBuffer], sequence: Int, handler: RESPConnectionHandler) {
        guard let theirs = PeerHello(fields: args.dropFirst().map { String(buffer: $0) }) else {
            return handler.replies.complete(sequence, RESPReply.error(PeerRefusal.malformed.description))
        }
        let server = handler.server
        let cluster = server.cluster
        let mine = cluster?.hello
            ?? PeerHello(version: PeerProtocol.current, cluster: "", node: server.nodeID, fingerprints: server.models.lanes.map(\.fingerprint))
        switch PeerHandshake.answer(theirs, mine: mine) {
        case .success(let answer):
            var reply = ByteBuffer()
            reply.writeArrayHeader(answer.fields.count)
            for field in answer.fields { reply.writeBulkString(field) }
            handler.replies.complete(sequence, reply)
        case .failure(let refusal):
            cluster?.refusedHello(from: theirs.node, refusal)
            handler.replies.closeAfterReply(sequence)  // nothing more from a peer of another cluster
            handler.replies.complete(sequence, RESPReply.error(refusal.description))
        }
    }

    /// A forward (`name` PEER.<kind>.IN or .FP) of `texts`, served by `lane` as their owner.
    private static func serve(_ name: String, texts: [[UInt8]], lane: EmbeddingNode, sequence: Int, handler: RESPConnectionHandler,
                              context: ChannelHandlerContext) {
        switch name {
        case "PEER.MEMBED.IN", "PEER.MEMBED.FP":
            handler.runLookup(texts, reply: .peerVectors, forwarded: true, sequence: sequence, context: context, lane: lane)
        case "PEER.LOCATE.IN", "PEER.LOCATE.FP":
            guard texts.count == 1 else { return handler.replies.complete(sequence, RESPReply.arity(name)) }
            Self.locate(texts[0], lane: lane, sequence: sequence, handler: handler, context: context)
        default:  // PEER.INVALIDATE.IN, PEER.INVALIDATE.FP
            Self.invalidate(texts, lane: lane, sequence: sequence, handler: handler, context: context)
        }
    }

    private static func refuse(_ name: String, _ sequence: Int, _ handler: RESPConnectionHandler) -> Bool {
        handler.replies.complete(sequence, RESPReply.arity(name))
        return true
    }

    private static func locate(_ text: [UInt8], lane: EmbeddingNode, sequence: Int, handler: RESPConnectionHandler, context: ChannelHandlerContext) {
        handler.runAsync(sequence, context: context) {
            var reply = ByteBuffer()
            do { reply.writeBulkString(try await lane.locate(text, forwarded: true).tier) } catch { reply = RESPReply.nodeError(error) }
            return reply
        }
    }

    private static func invalidate(_ texts: [[UInt8]], lane: EmbeddingNode, sequence: Int, handler: RESPConnectionHandler,
                                   context: ChannelHandlerContext) {
        handler.runAsync(sequence, context: context) {
            var reply = ByteBuffer()
            do { reply.writeRESPInteger(try await lane.invalidate(texts, forwarded: true)) } catch { reply = RESPReply.nodeError(error) }
            return reply
        }
    }
}
