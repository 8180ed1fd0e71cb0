// A node's shared state for the server's unit tests: two lanes of the tiny fixture model
// (Tests/Fixtures/random-bert/tiny-mean-raw, real weights, loads in milliseconds), the second with
// e5-style query/passage prefixes; no Redis, no cluster, nothing listening.
import EmbCluster
import EmbModel
import EmbNode
import EmbServer
import Foundation

enum TestServer {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let modelDirectory = root + "/Tests/Fixtures/random-bert/tiny-mean-raw"

    /// Lane 0 "tiny" (alias "tiny-alias"), lane 1 "tiny2" with query/passage prefixes.
    static func make(secret: Secret? = nil) throws -> ServerContext {
        var configuration = NodeConfiguration()
        configuration.l1MaxBytes = 1 << 20
        let ledger = SavingsLedger()
        let lanes = try ["tiny", "tiny2"].enumerated().map { index, name in
            let node = EmbeddingNode(model: try EmbeddingModel(directory: Self.modelDirectory, threads: 1), configuration: configuration, l2: nil,
                                     savings: ledger)
            return ModelLane(index: index, name: name, aliases: index == 0 ? ["tiny-alias"] : [], node: node,
                             queryPrefix: index == 1 ? "query: " : nil, passagePrefix: index == 1 ? "passage: " : nil)
        }
        return ServerContext(models: ModelCatalog(lanes), nodeID: "t1", secret: secret, metrics: NodeMetrics())
    }
}
