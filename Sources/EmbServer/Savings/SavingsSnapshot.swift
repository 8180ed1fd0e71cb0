// One node's savings as data: what INFO, /metrics, `SAVINGS` (RESP), GET /savings (HTTP), the
// cluster report and the dashboard are all made from, so they can never disagree. JSON-coded: the
// report and the dashboard fetch it from every node and add the nodes up (ClusterSavings).
import EmbCluster
import EmbNode
import Foundation

/// A node's accounts, series, overlap sample and health at one moment.
public struct SavingsSnapshot: Sendable, Codable {
    public struct Caller: Sendable, Codable {
        public var name: String
        /// Keyed by SavingsWindow raw values: "1m", "1h", "24h", "total".
        public var windows: [String: Tally]
    }

    public struct Health: Sendable, Codable {
        public var l2Enabled: Bool
        public var l2Up: Bool
        public var l1Entries: Int
        public var l1Bytes: Int
        public var peersUp: Int
        public var peersDown: Int
        /// Texts served here because their owner serves another checkpoint of the model (nil from a
        /// node of a release before the peer handshake).
        public var peerModelMismatch: Int?
        public var encoderQueue: Int
        public var uptimeSeconds: Double
    }

    public struct Encoder: Sendable, Codable {
        public var seconds: Double
        public var tokens: Int
        public var texts: Int
        public var threads: Int
        /// The running mean the node values duplicates at (or its start-up calibration).
        public var secondsPerToken: Double
    }

    /// The sample as it is ([hash, caller mask, minute each caller last asked…]), the callers named by bit.
    public struct Overlap: Sendable, Codable {
        public var level: Int
        public var capacity: Int
        public var callers: [String]
        public var entries: [[UInt64]]

        /// As OverlapEstimate.merge takes it.
        var sample: (level: Int, entries: [OverlapEntry], callers: [String]) {
            (self.level, self.entries.compactMap { e in
                e.count >= 2 ? OverlapEntry(hash: e[0], mask: e[1], seen: e.dropFirst(2).map { UInt32(clamping: $0) }) : nil
            }, self.callers)
        }
    }

    public var node: String
    public var model: String
    public var time: Double
    public var prices: SavingsPrices
    public var encoder: Encoder
    public var health: Health
    public var callers: [Caller]
    /// Texts by tier over all callers but the peers' pseudo-caller: the last 60 seconds and the
    /// last 60 minutes, oldest first, ending at `time`.
    public var perSecond: [PerTier]
    public var perMinute: [PerTier]
    public var overlap: Overlap

    /// The overlap between this node's callers (peers excluded).
    public var overlapEstimate: OverlapEstimate { self.overlapEstimate(.total) }

    /// The overlap between this node's callers over `window` (whole minutes, see OverlapEstimate.since).
    public func overlapEstimate(_ window: SavingsWindow) -> OverlapEstimate {
        OverlapEstimate.merge([self.overlap.sample], excluding: [SavingsLedger.peersName], since: OverlapEstimate.since(window, now: self.time))
    }

    /// Every caller but the peers' pseudo-caller (their texts are counted where they were asked).
    public var clientCallers: [Caller] { self.callers.filter { $0.name != SavingsLedger.peersName } }
}

extension SavingsSnapshot {
    /// Compact JSON (the RESP `SAVINGS` reply and GET /savings).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func decode(_ bytes: [UInt8]) throws -> SavingsSnapshot { try JSONDecoder().decode(SavingsSnapshot.self, from: Data(bytes)) }
}

extension SavingsPrices {
    /// The prices of a cluster file's `savings:` section.
    init(_ s: ClusterFile.Savings) {
        self.init()
        self.perMillionTokens = s.pricePerMillionTokens
        self.perCPUHour = s.pricePerCPUHour
        self.currency = s.currency
    }
}

extension OverlapEstimate {
    /// The first minute a window's overlap counts. The sample keeps minutes, so "last hour" is the
    /// current minute and the 60 before it (and "last minute" the current and the previous one).
    public static func since(_ window: SavingsWindow, now: Double) -> UInt32 {
        let minute = OverlapSample.minute(now)
        switch window {
        case .minute: return minute &- min(minute, 1)
        case .hour: return minute &- min(minute, 60)
        case .day: return minute &- min(minute, 1440)
        case .total: return 0
        }
    }
}
