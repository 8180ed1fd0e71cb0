// The cluster as one model's lane sees it: the same ring and peers as every lane (ClusterRouter), with
// forwards carrying the model's fingerprint (PEER.MEMBED.FP fingerprint ...) so the owner serves them
// from the lane of that very checkpoint or refuses (PEERMODEL). Keys whose owner serves another
// checkpoint stay here. Version-1 peers get PEER.MEMBED (the default model) or PEER.MEMBED.IN name.
import EmbHash
import EmbNode

struct LaneRouter: PeerRouter {
    let cluster: ClusterRouter
    /// The model's name on the wire for version-1 peers; nil for the default model.
    let model: String?
    /// The model's fingerprint (hex): what the owner must serve.
    let fingerprint: String
    let vectorBytes: Int

    func remoteOwner(of key: CacheKey) -> String? { self.cluster.remoteOwner(of: key, fingerprint: self.fingerprint) }

    func fetch(_ texts: [[UInt8]], from peer: String) async throws -> [(vector: [UInt8], computed: Bool)] {
        try await self.cluster.fetch(texts, from: peer, fingerprint: self.fingerprint, model: self.model, vectorBytes: self.vectorBytes)
    }

    func reportFailure(_ peer: String) { self.cluster.reportFailure(peer) }

    func locate(_ text: [UInt8], at peer: String) async throws -> String {
        try await self.cluster.locate(text, at: peer, fingerprint: self.fingerprint, model: self.model)
    }

    func invalidate(_ texts: [[UInt8]], at peer: String) async throws -> Int {
        try await self.cluster.invalidate(texts, at: peer, fingerprint: self.fingerprint, model: self.model)
    }
}
