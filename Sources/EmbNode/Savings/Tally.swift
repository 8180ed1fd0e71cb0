// What one caller cost and saved, as plain additive counts: the unit every window, snapshot, INFO
// line, Prometheus counter and cluster report is built from (Docs/operations.md reads them).
//
// A text is a *duplicate* when nobody computed it for this request: it was answered from a cache
// (l1, hot, l2), joined a computation already in flight (coalesced), or was forwarded to its owner
// and the owner answered it from its own cache. Only `computed` texts, and forwarded texts the
// owner had to compute, are not. A duplicate is the avoidable work the issue asks to show.

/// Counts by tier (indexable by `Tier`).
public struct PerTier: Sendable, Equatable, Codable {
    public var l1 = 0
    public var l2 = 0
    public var computed = 0
    public var coalesced = 0
    public var hot = 0
    public var forwarded = 0

    public init() {}

    public subscript(tier: Tier) -> Int {
        get {
            switch tier {
            case .l1: return self.l1
            case .l2: return self.l2
            case .computed: return self.computed
            case .coalesced: return self.coalesced
            case .hot: return self.hot
            case .forwarded: return self.forwarded
            }
        }
        set {
            switch tier {
            case .l1: self.l1 = newValue
            case .l2: self.l2 = newValue
            case .computed: self.computed = newValue
            case .coalesced: self.coalesced = newValue
            case .hot: self.hot = newValue
            case .forwarded: self.forwarded = newValue
            }
        }
    }

    public var total: Int { self.l1 + self.l2 + self.computed + self.coalesced + self.hot + self.forwarded }

    public mutating func add(_ o: PerTier) {
        self.l1 += o.l1
        self.l2 += o.l2
        self.computed += o.computed
        self.coalesced += o.coalesced
        self.hot += o.hot
        self.forwarded += o.forwarded
    }
}

/// Requests, texts and tokens of one caller, by tier, with the compute they cost and saved.
public struct Tally: Sendable, Equatable, Codable {
    public var requests = 0
    public var texts = PerTier()
    public var tokens = PerTier()
    /// Forwarded texts (and their tokens) the owner had to compute: not duplicates. The owner says
    /// which in its PEER.MEMBED reply; when it cannot, the text counts here (no saving is claimed).
    public var ownerComputedTexts = 0
    public var ownerComputedTokens = 0
    /// Encoder seconds of the texts computed on this node for this caller: each text's token share
    /// of the batch it ran in.
    public var encoderSeconds = 0.0
    /// Encoder seconds the duplicates did not cost: each one's tokens × the node's running mean
    /// seconds per token when it was answered.
    public var savedSeconds = 0.0

    public init() {}

    public var duplicateTexts: Int { self.texts.total - self.texts.computed - self.ownerComputedTexts }
    public var duplicateTokens: Int { self.tokens.total - self.tokens.computed - self.ownerComputedTokens }

    /// Duplicates over texts (0 when there were none).
    public var duplicateShare: Double { self.texts.total > 0 ? Double(self.duplicateTexts) / Double(self.texts.total) : 0 }

    public var isEmpty: Bool { self.requests == 0 && self.texts.total == 0 }

    /// `n` texts of `tokens` tokens answered by `tier`.
    public mutating func add(_ tier: Tier, texts n: Int, tokens: Int) {
        self.texts[tier] += n
        self.tokens[tier] += tokens
    }

    public mutating func add(_ o: Tally) {
        self.requests += o.requests
        self.texts.add(o.texts)
        self.tokens.add(o.tokens)
        self.ownerComputedTexts += o.ownerComputedTexts
        self.ownerComputedTokens += o.ownerComputedTokens
        self.encoderSeconds += o.encoderSeconds
        self.savedSeconds += o.savedSeconds
    }
}
