// The owner's side of the peer protocol's version 2 (Docs/protocol.md): PEER.HELLO, answered with
// this node's own hello at the common version or refused (another cluster), and the
// fingerprint-carrying forwards PEER.MEMBED.FP / PEER.LOCATE.FP / PEER.INVALIDATE.FP, served by the
// lane of that fingerprint or refused with PEERMODEL, never with another model's vector. The checks
// are PeerHandshake's pure functions; these are the dispatch's hooks.
import EmbRESP
import NIOCore

extension ModelLane {
    /// The lane's model fingerprint as peers name it (hex).
    var fingerprint: String { self.node.model.fingerprint.hash.hex }
}

extension RESPConnectionHandler {
    /// PEER.HELLO version cluster-name node-id fingerprint...
    func peerHello(_ args: [ByteBuffer], sequence: Int) {
        self.markPeerLink()
        guard let theirs = PeerHello(fields: args.dropFirst().map { String(buffer: $0) }) else {
            return self.complete(sequence, Self.error(PeerRefusal.malformed.description))
        }
        let cluster = self.server.cluster
        let mine = cluster?.hello
            ?? PeerHello(version: PeerProtocol.current, cluster: "", node: self.server.nodeID, fingerprints: self.server.models.lanes.map(\.fingerprint))
        switch PeerHandshake.answer(theirs, mine: mine) {
        case .success(let answer):
            var reply = ByteBuffer()
            reply.writeArrayHeader(answer.fields.count)
            for field in answer.fields { reply.writeBulkString(field) }
            self.complete(sequence, reply)
        case .failure(let refusal):
            cluster?.refusedHello(from: theirs.node, refusal)
            self.closeAfterReply(sequence)  // nothing more from a peer of another cluster
            self.complete(sequence, Self.error(refusal.description))
        }
    }

    /// PEER.MEMBED.FP | PEER.LOCATE.FP | PEER.INVALIDATE.FP fingerprint text...
    func peerCommandFP(_ name: String, _ args: [ByteBuffer], sequence: Int, context: ChannelHandlerContext) {
        self.markPeerLink()
        guard args.count >= 3 else { return self.complete(sequence, Self.arity(name)) }
        let fingerprint = String(buffer: args[1])
        let lanes = self.server.models.lanes
        guard let index = PeerHandshake.lane(serving: fingerprint, among: lanes.map(\.fingerprint)) else {
            return self.complete(sequence, Self.error(PeerHandshake.modelMismatch(fingerprint, node: self.server.nodeID)))
        }
        // The connection's own lane answers hits on the event loop, as PEER.MEMBED does.
        if name == "PEER.MEMBED.FP", index == self.selection.lane.index, self.selection.prefix.isEmpty,
            self.serveAllFromL1(args.dropFirst(2), owned: true, sequence: sequence)
        {
            return
        }
        self.servePeerCommand(name, texts: args.dropFirst(2).map { Array($0.readableBytesView) }, lane: lanes[index], sequence: sequence, context: context)
    }
}
