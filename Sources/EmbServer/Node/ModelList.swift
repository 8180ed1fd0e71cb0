// GET /v1/models and /v1/models/{id} in OpenAI's shape. Tools call it first (Open WebUI, LiteLLM,
// IDE plugins list what a base URL serves, and many give up on a 404), so every name a request may put
// in `model` is listed: each model's name, its aliases and its NAME:query / NAME:passage forms.
import Foundation

/// The served names as OpenAI's model objects: {"id", "object": "model", "created", "owned_by"}.
public struct ModelList: Sendable {
    public let catalog: ModelCatalog
    /// Unix seconds; OpenAI's `created` is when the model was made available, here when the node started.
    public let created: Int

    public init(catalog: ModelCatalog, created: Int) {
        (self.catalog, self.created) = (catalog, created)
    }

    /// {"object": "list", "data": [model, ...]}, in the catalog's order (the default model first).
    public func listJSON() -> String {
        Self.json(["object": "list", "data": self.catalog.servedNames.map(self.object)])
    }

    /// The model object for `id`, or nil when no lane answers to it (a 404 in OpenAI's shape).
    public func modelJSON(_ id: String) -> String? {
        guard self.catalog.select(id) != nil else { return nil }
        return Self.json(self.object(id))
    }

    private func object(_ id: String) -> [String: Any] {
        ["id": id, "object": "model", "created": self.created, "owned_by": "embcache"]
    }

    private static func json(_ object: Any) -> String {
        // The names are plain words (ClusterFile.modelNameCharacters), so serialization cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
