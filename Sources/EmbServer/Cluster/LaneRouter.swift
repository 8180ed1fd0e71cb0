// The cluster as one model's lane sees it: the same ring and peers as every lane (ClusterRouter), with
// forwards tagged by the model's name (PEER.MEMBED.IN name ...) so the owner serves them from the
// same model's lane. The default model keeps the plain PEER.* commands.
import EmbHash
import EmbNode

struct LaneRouter: PeerRouter {
    let cluster: ClusterRouter
    /// The model's name on the wire; nil for the default model.
    let model: String?
    let vectorBytes: Int

    func remoteOwner(of key: CacheKey) -> String? { self.cluster.remoteOwner(of: key) }

    func fetch(_ texts: [[UInt8]], from peer: String) async throws -> [(vector: [UInt8], computed: Bool)] {
        try await self.cluster.fetch(texts, from: peer, model: self.model, vectorBytes: self.vectorBytes)
    }

    func reportFailure(_ peer: String) { self.cluster.reportFailure(peer) }

    func locate(_ text: [UInt8], at peer: String) async throws -> String {
        try await self.cluster.locate(text, at: peer, model: self.model)
    }

    func invalidate(_ texts: [[UInt8]], at peer: String) async throws -> Int {
        try await self.cluster.invalidate(texts, at: peer, model: self.model)
    }
}
