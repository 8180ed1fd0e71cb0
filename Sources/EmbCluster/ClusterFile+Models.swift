// The models a cluster serves. `model:` (one folder, the contract's form) still works; `models:` lists
// several, the first being the default (what a request that names no model gets):
//
//   models:
//     - name: all-MiniLM-L6-v2            # what clients ask for: HTTP "model", RESP CLIENT SETMODEL
//       path: models/all-MiniLM-L6-v2
//       aliases: [sentence-transformers/all-MiniLM-L6-v2]
//     - name: e5-base-v2
//       path: models/e5-base-v2
//       query_prefix: "query: "           # served as e5-base-v2:query (the plain name embeds the text as sent)
//       passage_prefix: "passage: "       # served as e5-base-v2:passage
//       ttl: 12h                          # per-model TTL (default cache.ttl)
//       l1_max_bytes: 64MiB               # per-model L1 (default: an equal share of cache.l1_max_bytes)
//       matryoshka_dims: [512, 256, 128]  # Matryoshka-trained: HTTP `dimensions` / RESP DIMENSIONS may ask
//                                         # for these widths (the first n floats, renormalized)
//
// Every node of a cluster must serve the same list: keys are forwarded to their owner with the model's
// name. Keys carry the model's fingerprint, so models never share vectors.
import Yams

extension ClusterFile {
    /// One served model.
    public struct Model: Sendable, Equatable {
        /// The name clients use; also the name peers forward under.
        public var name: String
        /// The model folder (config.json, vocab.txt, model.safetensors, ...).
        public var path: String
        /// Other names that select it (an HTTP `model` of "sentence-transformers/all-MiniLM-L6-v2", say).
        public var aliases: [String] = []
        /// Prepended to a text asked for as NAME:query / NAME:passage (e5's "query: " and "passage: ").
        public var queryPrefix: String?
        public var passagePrefix: String?
        /// Overrides of cache.ttl and of the model's share of cache.l1_max_bytes.
        public var ttlSeconds: Double?
        public var l1MaxBytes: Int?
        /// The narrower widths this model was trained to give (Matryoshka representation learning):
        /// a request may ask for one of them and gets the first n floats of the full vector. Empty: the
        /// model serves its full width only. Checked against the model's width when the node loads it.
        public var matryoshkaDims: [Int] = []

        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }

        /// The model a bare `model: {path: P}` section (or no section) describes: named after its folder,
        /// with the contract's alias for all-MiniLM-L6-v2.
        public static func fromPath(_ path: String) -> Model {
            var m = Model(name: path.split(separator: "/").last.map(String.init) ?? path, path: path)
            if m.name == "all-MiniLM-L6-v2" { m.aliases = ["sentence-transformers/all-MiniLM-L6-v2"] }
            return m
        }
    }

    static let modelKeys: Set<String> = ["name", "path", "aliases", "query_prefix", "passage_prefix", "ttl", "l1_max_bytes", "matryoshka_dims"]
    /// Names are plain words: they travel in RESP arguments, HTTP JSON and metric labels.
    static let modelNameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
    static let maxModels = 16

    /// Reads `models:` (a list), or nil when the file has none.
    static func models(_ node: Yams.Node?, warnings: inout [ClusterFileError]) throws -> [Model]? {
        guard let node else { return nil }
        guard let list = node.sequence, (1...Self.maxModels).contains(list.count) else {
            throw ClusterFileError(.badValue, line: Self.line(node), "'models' must be a list of 1 to \(Self.maxModels) models (name, path)")
        }
        var models: [Model] = []
        var names: Set<String> = []
        for item in list {
            guard let m = item.mapping else { throw ClusterFileError(.badValue, line: Self.line(item), "a model must be a mapping (name, path)") }
            for (k, _) in m where !Self.modelKeys.contains(k.string ?? "") {
                warnings.append(ClusterFileError(.unknownKey, line: Self.line(k), "unknown model key '\(k.string ?? "")' ignored"))
            }
            guard let nameNode = m["name"], let pathNode = m["path"], let name = nameNode.string, let path = pathNode.string, !path.isEmpty else {
                throw ClusterFileError(.missingField, line: Self.line(item), "a model needs a 'name' and a 'path'")
            }
            var model = Model(name: name, path: path)
            if let v = m["aliases"] {
                guard let aliases = v.sequence?.compactMap(\.string), aliases.count == v.sequence?.count else {
                    throw ClusterFileError(.badValue, line: Self.line(v), "model \(name) aliases must be a list of names")
                }
                model.aliases = aliases
            }
            for (line, n) in [(Self.line(nameNode), name)] + model.aliases.map({ (Self.line(m["aliases"]!), $0) }) {
                guard (1...128).contains(n.count), n.allSatisfy({ Self.modelNameCharacters.contains($0) }), !n.hasSuffix(":query"), !n.hasSuffix(":passage") else {
                    throw ClusterFileError(.badValue, line: line, "model name '\(n)' must be 1 to 128 letters, digits or - _ . /")
                }
                guard names.insert(n).inserted else { throw ClusterFileError(.badValue, line: line, "model name '\(n)' is used twice") }
            }
            if let v = m["query_prefix"], !Self.isNull(v) { model.queryPrefix = v.string }
            if let v = m["passage_prefix"], !Self.isNull(v) { model.passagePrefix = v.string }
            if let v = m["ttl"] {
                guard let t = Units.seconds(v.string ?? ""), t > 0, t <= Self.maxTTLSeconds else {
                    throw ClusterFileError(.badValue, line: Self.line(v), "model \(name) ttl: '\(v.string ?? "")' is not a duration like 24h")
                }
                model.ttlSeconds = t
            }
            if let v = m["l1_max_bytes"] {
                guard let n = Units.bytes(v.string ?? "") else {
                    throw ClusterFileError(.badValue, line: Self.line(v), "model \(name) l1_max_bytes: '\(v.string ?? "")' is not a size like 64MiB")
                }
                model.l1MaxBytes = n
            }
            if let v = m["matryoshka_dims"] {
                model.matryoshkaDims = try Self.matryoshkaDims(v, model: name)
            }
            models.append(model)
        }
        return models
    }

    /// `matryoshka_dims: [512, 256, 128]`: distinct positive widths (at most 16); their bound by the
    /// model's own width is checked when the model is loaded (the file does not know it).
    static func matryoshkaDims(_ v: Yams.Node, model name: String) throws -> [Int] {
        let items = v.sequence ?? []
        let dims = items.compactMap { $0.string.flatMap { Int($0) } }
        guard v.sequence != nil, !dims.isEmpty, dims.count == items.count, dims.count <= 16,
              dims.allSatisfy({ (1...65536).contains($0) }), Set(dims).count == dims.count else {
            throw ClusterFileError(.badValue, line: Self.line(v),
                                   "model \(name) matryoshka_dims must be a list of 1 to 16 distinct positive widths, like [256, 128]")
        }
        return dims.sorted(by: >)
    }
}
