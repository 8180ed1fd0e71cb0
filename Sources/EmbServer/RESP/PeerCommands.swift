// The internal PEER.* commands a peer sends on its link to the owner of a key (Cluster/PeerClient,
// PeerLink): served here as owner, never forwarded again. Behaviour unchanged by issue 18's split;
// the peer-link rewrite (issue "Across hosts") owns their future shape.
//   PEER.MEMBED text...                  the default model's texts (an all-hit batch is answered on
//                                        the loop, RESPConnectionHandler+Requests' fast frame too);
//   PEER.LOCATE text | PEER.INVALIDATE text...
//   PEER.MEMBED.IN | PEER.LOCATE.IN | PEER.INVALIDATE.IN name text...: a model other than the default,
//                                        served by that model's lane.
// A connection that sends one is a peer's link: its texts are charged to the peers' pseudo-caller.
import EmbNode
import EmbRESP
import NIOCore

enum RESPPeerCommands {
    /// Runs `name` if it is a PEER.* command (true); false for any other.
    static func run(_ name: String, _ args: [ByteBuffer], sequence: Int, handler: RESPConnectionHandler, context: ChannelHandlerContext) -> Bool {
        switch name {
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
            let texts = args.dropFirst(2).map { Array($0.readableBytesView) }
            switch name {
            case "PEER.MEMBED.IN":
                handler.runLookup(texts, reply: .peerVectors, forwarded: true, sequence: sequence, context: context, lane: lane.node)
            case "PEER.LOCATE.IN":
                guard texts.count == 1 else { return Self.refuse(name, sequence, handler) }
                Self.locate(texts[0], lane: lane.node, sequence: sequence, handler: handler, context: context)
            default:
                Self.invalidate(texts, lane: lane.node, sequence: sequence, handler: handler, context: context)
            }
        default:
            return false
        }
        return true
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
