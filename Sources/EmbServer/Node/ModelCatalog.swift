// The models a node serves, by the names clients use. Each model is a lane: its own EmbeddingNode
// (model, L1, alias table, hot cache, batcher and L2 client, so a 768-wide model's vectors never share
// an LRU slot size or an encoder queue with a 384-wide one), all behind one ring and one set of ports.
// Keys carry the model's fingerprint, so lanes never serve each other's vectors even in a shared Redis.
//
// A name may carry an input type: NAME:query and NAME:passage prepend the model's query/passage
// prefix (e5's "query: " / "passage: ") before tokenizing; NAME alone embeds the text as sent.
import EmbNode

/// One served model.
public struct ModelLane: Sendable {
    /// Position in the cluster file's list (0 = the default; also its RESP `SELECT` number).
    public let index: Int
    /// The name clients ask for and peers forward under.
    public let name: String
    public let aliases: [String]
    public let node: EmbeddingNode
    public let queryPrefix: [UInt8]?
    public let passagePrefix: [UInt8]?
    /// The narrower widths a request may ask for (cluster file `matryoshka_dims`; OutputWidth).
    public let matryoshkaDims: [Int]
    /// Whether the model's vectors are unit length (its pooling normalizes), so cut ones are rescaled.
    public let normalizes: Bool

    /// The model's fingerprint as peers name it (hex): PEER.HELLO lists it, PEER.*.FP forwards carry it.
    var fingerprint: String { self.node.model.fingerprint.hash.hex }

    /// The savings account a caller's texts of this model go to: the caller itself for the default
    /// model, "caller@model" for the others (so each model's figures show in INFO callers and reports).
    public func accountName(for caller: String) -> String {
        self.index == 0 ? caller : caller + "@" + self.name
    }

    public init(index: Int, name: String, aliases: [String], node: EmbeddingNode, queryPrefix: String?, passagePrefix: String?,
                matryoshkaDims: [Int] = []) {
        (self.index, self.name, self.aliases, self.node) = (index, name, aliases, node)
        self.matryoshkaDims = matryoshkaDims
        self.normalizes = node.model.config.pooling.normalize
        self.queryPrefix = queryPrefix.map { Array($0.utf8) }
        self.passagePrefix = passagePrefix.map { Array($0.utf8) }
    }
}

/// A lane and the input-type prefix a request selected.
public struct ModelSelection: Sendable {
    public let lane: ModelLane
    /// Bytes put before every text ([] for the plain name).
    public let prefix: [UInt8]
    /// The name as the client gave it (echoed in HTTP replies).
    public let requestedName: String
}

/// The served models, by name.
public struct ModelCatalog: Sendable {
    public let lanes: [ModelLane]
    private let byName: [String: Int]

    public init(_ lanes: [ModelLane]) {
        precondition(!lanes.isEmpty, "a node serves at least one model")
        self.lanes = lanes
        var byName: [String: Int] = [:]
        for lane in lanes {
            for name in [lane.name] + lane.aliases { byName[name] = lane.index }
        }
        self.byName = byName
    }

    /// The model requests get when they name none.
    public var defaultLane: ModelLane { self.lanes[0] }

    /// The lane (and prefix) `name` selects: a name or alias, optionally with ":query" or ":passage"
    /// (for a model that declares that prefix); nil for anything else.
    public func select(_ name: String) -> ModelSelection? {
        if let i = self.byName[name] { return ModelSelection(lane: self.lanes[i], prefix: [], requestedName: name) }
        for (suffix, isQuery) in [(":query", true), (":passage", false)] where name.hasSuffix(suffix) {
            guard let i = self.byName[String(name.dropLast(suffix.count))] else { return nil }
            let lane = self.lanes[i]
            guard let prefix = isQuery ? lane.queryPrefix : lane.passagePrefix else { return nil }
            return ModelSelection(lane: lane, prefix: prefix, requestedName: name)
        }
        return nil
    }

    /// The lane named exactly `name` (peers forward under the canonical name).
    public func lane(named name: String) -> ModelLane? {
        self.lanes.first { $0.name == name }
    }

    /// Every name a client may use, for error messages and INFO.
    public var servedNames: [String] {
        self.lanes.flatMap { lane in
            [lane.name] + lane.aliases + (lane.queryPrefix == nil ? [] : [lane.name + ":query"]) + (lane.passagePrefix == nil ? [] : [lane.name + ":passage"])
        }
    }

    /// "unknown model 'x'; this node serves a, b:query, ...".
    public func unknown(_ name: String) -> String {
        "unknown model '\(name.prefix(128))'; this node serves \(self.servedNames.joined(separator: ", "))"
    }
}
