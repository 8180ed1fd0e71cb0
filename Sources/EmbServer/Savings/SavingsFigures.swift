// What a tally means in seconds and money, and the cluster's figures as the sum of its nodes'.
//
// - spent: encoder seconds of the texts computed for the caller on the node it asked, plus, for
//   texts forwarded to an owner that computed them, their tokens × the asking node's seconds per
//   token (the owner's actual time is charged there to the peers' pseudo-caller).
// - saved: each duplicate's tokens × the running mean seconds per token when it was answered.
// - money: duplicate tokens at the hosted API's price per 1M tokens, and saved encoder seconds ×
//   encoder threads (CPU-seconds) at the price per CPU-hour; both shown with the prices used.
import EmbNode

/// Additive figures of one caller (or a total), on one node or summed over nodes.
public struct SavingsFigures: Sendable, Codable, Equatable {
    public var requests = 0
    public var texts = 0
    public var tokens = 0
    public var byTier = PerTier()
    public var duplicates = 0
    public var duplicateTokens = 0
    public var spentSeconds = 0.0
    public var savedSeconds = 0.0
    public var savedCPUHours = 0.0
    public var savedMoneyAPI = 0.0
    public var savedMoneyCPU = 0.0
    /// What the hosted API would have charged for every token asked (duplicates or not).
    public var apiCostAll = 0.0

    public init() {}

    public var duplicateShare: Double { self.texts > 0 ? Double(self.duplicates) / Double(self.texts) : 0 }
    public var hitShare: Double { self.texts > 0 ? Double(self.texts - self.byTier.computed) / Double(self.texts) : 0 }

    /// The figures of `t` on a node whose encoder runs `threads` threads at `secondsPerToken`.
    public init(_ t: Tally, prices: SavingsPrices, secondsPerToken: Double, threads: Int) {
        self.requests = t.requests
        self.texts = t.texts.total
        self.tokens = t.tokens.total
        self.byTier = t.texts
        self.duplicates = t.duplicateTexts
        self.duplicateTokens = t.duplicateTokens
        self.spentSeconds = t.encoderSeconds + Double(t.ownerComputedTokens) * secondsPerToken
        self.savedSeconds = t.savedSeconds
        self.savedCPUHours = t.savedSeconds * Double(max(1, threads)) / 3600
        self.savedMoneyAPI = Double(t.duplicateTokens) / 1e6 * prices.perMillionTokens
        self.savedMoneyCPU = self.savedCPUHours * prices.perCPUHour
        self.apiCostAll = Double(t.tokens.total) / 1e6 * prices.perMillionTokens
    }

    public mutating func add(_ o: SavingsFigures) {
        self.requests += o.requests
        self.texts += o.texts
        self.tokens += o.tokens
        self.byTier.add(o.byTier)
        self.duplicates += o.duplicates
        self.duplicateTokens += o.duplicateTokens
        self.spentSeconds += o.spentSeconds
        self.savedSeconds += o.savedSeconds
        self.savedCPUHours += o.savedCPUHours
        self.savedMoneyAPI += o.savedMoneyAPI
        self.savedMoneyCPU += o.savedMoneyCPU
        self.apiCostAll += o.apiCostAll
    }
}

extension SavingsSnapshot {
    /// The figures of every caller (peers' pseudo-caller included) over `window`.
    public func figures(_ window: SavingsWindow) -> [String: SavingsFigures] {
        var out: [String: SavingsFigures] = [:]
        for c in self.callers {
            guard let t = c.windows[window.rawValue] else { continue }
            out[c.name] = SavingsFigures(t, prices: self.prices, secondsPerToken: self.encoder.secondsPerToken, threads: self.encoder.threads)
        }
        return out
    }
}

/// The cluster's savings: every node's snapshot added up (what `embcache report` prints and the
/// dashboard draws).
public struct ClusterSavings: Sendable, Codable {
    public struct Window: Sendable, Codable {
        /// Per caller (peers' pseudo-caller excluded), and their total.
        public var callers: [String: SavingsFigures]
        public var total: SavingsFigures

        public init(callers: [String: SavingsFigures], total: SavingsFigures) {
            (self.callers, self.total) = (callers, total)
        }
    }

    public var time: Double
    public var nodes: [String]
    /// Nodes that did not answer.
    public var unreachable: [String]
    public var prices: SavingsPrices
    public var windows: [String: Window]
    /// The overlap since start, and over the last minute, hour and day ("1m", "1h", "24h").
    public var overlap: OverlapEstimate
    public var overlapWindows: [String: OverlapEstimate]
    /// Texts by tier per second / per minute over the cluster (oldest first).
    public var perSecond: [PerTier]
    public var perMinute: [PerTier]
    public var health: [String: SavingsSnapshot.Health]
    public var encoderSeconds: Double
    public var encoderTokens: Int

    public init(_ snapshots: [SavingsSnapshot], unreachable: [String] = []) {
        self.time = snapshots.map(\.time).max() ?? 0
        self.nodes = snapshots.map(\.node)
        self.unreachable = unreachable
        self.prices = snapshots.first?.prices ?? SavingsPrices()
        var windows: [String: Window] = [:]
        for w in SavingsWindow.allCases {
            var callers: [String: SavingsFigures] = [:]
            var total = SavingsFigures()
            for s in snapshots {
                for (name, f) in s.figures(w) where name != SavingsLedger.peersName {
                    callers[name, default: SavingsFigures()].add(f)
                    total.add(f)
                }
            }
            windows[w.rawValue] = Window(callers: callers, total: total)
        }
        self.windows = windows
        let samples = snapshots.map(\.overlap.sample)
        self.overlap = OverlapEstimate.merge(samples, excluding: [SavingsLedger.peersName])
        var overlapWindows: [String: OverlapEstimate] = [:]
        for w in [SavingsWindow.minute, .hour, .day] {
            overlapWindows[w.rawValue] = OverlapEstimate.merge(samples, excluding: [SavingsLedger.peersName], since: OverlapEstimate.since(w, now: self.time))
        }
        self.overlapWindows = overlapWindows
        self.perSecond = Self.sum(snapshots.map(\.perSecond))
        self.perMinute = Self.sum(snapshots.map(\.perMinute))
        self.health = Dictionary(snapshots.map { ($0.node, $0.health) }, uniquingKeysWith: { a, _ in a })
        self.encoderSeconds = snapshots.reduce(0) { $0 + $1.encoder.seconds }
        self.encoderTokens = snapshots.reduce(0) { $0 + $1.encoder.tokens }
    }

    static func sum(_ series: [[PerTier]]) -> [PerTier] {
        var out = [PerTier](repeating: PerTier(), count: series.map(\.count).max() ?? 0)
        for s in series { for (i, p) in s.enumerated() { out[i].add(p) } }
        return out
    }
}
