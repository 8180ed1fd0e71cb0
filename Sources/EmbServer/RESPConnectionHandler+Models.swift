// Which model a RESP connection's texts go to. Three ways, for three kinds of client:
//   CLIENT SETMODEL name      by name, for the connection (also NAME:query / NAME:passage);
//   SELECT n                  the n-th model of the cluster file, for the connection: every Redis client
//                             pool re-sends it on each new connection from a URL's /n (redis://host:port/1);
//   EMBED text MODEL name     one request, whatever the connection's model.
// Peers forward texts of a model other than the default with PEER.MEMBED.IN / PEER.LOCATE.IN /
// PEER.INVALIDATE.IN name ..., served by that model's lane (the plain PEER.* are the default model's).
import EmbNode
import EmbRESP
import NIOCore

extension RESPConnectionHandler {
    /// The savings account texts are charged to (ModelLane.accountName).
    var accountName: String { self.selection.lane.accountName(for: self.caller) }

    /// Makes `selection` this connection's model: later texts use its lane and prefix.
    func select(_ selection: ModelSelection) {
        self.commitBurst()
        self.selection = selection
        // The memo maps text hashes to the old lane's keys; the account is per model.
        self.knownKeys.forgetAll()
        if !self.isPeerLink { self.account = self.node.savings.account(self.accountName) }
    }

    /// CLIENT SETMODEL name | CLIENT GETMODEL.
    func clientModel(_ sub: String, _ args: [ByteBuffer]) -> ByteBuffer {
        if sub == "GETMODEL" {
            var reply = ByteBuffer()
            reply.writeBulkString(self.selection.requestedName)
            return reply
        }
        guard args.count == 2 else { return Self.arity("client|setmodel") }
        let name = String(buffer: args[1])
        guard let selection = self.server.models.select(name) else { return Self.error("ERR \(self.server.models.unknown(name))") }
        self.select(selection)
        return Self.ok()
    }

    /// SELECT n: the n-th model of the cluster file (0 = the default), as a Redis database number.
    func selectDatabase(_ args: [ByteBuffer]) -> ByteBuffer {
        let lanes = self.server.models.lanes
        guard args.count == 2, let n = Int(String(buffer: args[1])), lanes.indices.contains(n) else {
            let list = lanes.map { "\($0.index)=\($0.name)" }.joined(separator: ", ")
            return Self.error("ERR DB index is out of range (models: \(list))")
        }
        self.select(self.server.models.select(lanes[n].name)!)
        return Self.ok()
    }

    /// The command with the selected query/passage prefix put before every text, for the commands
    /// that take texts; others unchanged.
    func applyingPrefix(_ command: RESPCommand) -> RESPCommand {
        let prefix = self.selection.prefix
        guard !prefix.isEmpty, command.arguments.count >= 2,
              Self.textCommands.contains(where: { command.hasName($0) }),
              !(command.hasName("EMBED") && command.arguments.count == 4)  // EMBED text MODEL name: its own model
        else { return command }
        var args = command.arguments
        for i in 1..<args.count {
            var text = ByteBuffer()
            text.reserveCapacity(prefix.count + args[i].readableBytes)
            text.writeBytes(prefix)
            text.writeImmutableBuffer(args[i])
            args[i] = text
        }
        return RESPCommand(arguments: args, framing: command.framing)
    }

    static let textCommands: [StaticString] = ["EMBED", "MEMBED", "INVALIDATE", "EMBED.LOCATE", "EMBED.WARM"]

    /// EMBED text MODEL name: this one text through `name`'s lane (async path).
    func embedIn(_ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        let name = String(buffer: args[3])
        guard let selection = self.server.models.select(name) else {
            return self.complete(sequence, Self.error("ERR \(self.server.models.unknown(name))"))
        }
        let account = self.node.savings.account(selection.lane.accountName(for: self.caller))
        self.runLookup([selection.prefix + Array(args[1].readableBytesView)], reply: .vector, sequence: sequence, context: context,
                       node: selection.lane.node, account: account)
    }

    /// PEER.MEMBED.IN | PEER.LOCATE.IN | PEER.INVALIDATE.IN name text...: a peer's forward for a model
    /// other than the default, served by that model's lane, never forwarded again.
    func peerCommandIn(_ name: String, _ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        self.markPeerLink()
        guard args.count >= 3 else { return self.complete(sequence, Self.arity(name)) }
        let modelName = String(buffer: args[1])
        guard let lane = self.server.models.lane(named: modelName) else {
            return self.complete(sequence, Self.error("ERR \(self.server.models.unknown(modelName)) (peers must serve the same models)"))
        }
        self.servePeerCommand(name, texts: args.dropFirst(2).map { Array($0.readableBytesView) }, lane: lane, sequence: sequence, context: context)
    }

    /// A peer's forward (`name` PEER.MEMBED.IN|.FP, PEER.LOCATE.IN|.FP or PEER.INVALIDATE.IN|.FP) of
    /// `texts`, served by `lane` as their owner, never forwarded again.
    func servePeerCommand(_ name: String, texts: [[UInt8]], lane: ModelLane, sequence: Int, context: ChannelHandlerContext) {
        let node = lane.node
        switch name {
        case "PEER.MEMBED.IN", "PEER.MEMBED.FP":
            self.runLookup(texts, reply: .peerVectors, forwarded: true, sequence: sequence, context: context, node: node)
        case "PEER.LOCATE.IN", "PEER.LOCATE.FP":
            guard texts.count == 1 else { return self.complete(sequence, Self.arity(name)) }
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeBulkString(try await node.locate(texts[0], forwarded: true).tier) } catch { reply = Self.nodeError(error) }
                return reply
            }
        default:  // PEER.INVALIDATE.IN, PEER.INVALIDATE.FP
            self.runAsync(sequence, context: context) {
                var reply = ByteBuffer()
                do { reply.writeRESPInteger(try await node.invalidate(texts, forwarded: true)) } catch { reply = Self.nodeError(error) }
                return reply
            }
        }
    }
}
