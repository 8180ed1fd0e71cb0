// A node's accounting of who asked for what, what answered, and what it cost or saved (issue 9).
//
// One `CallerAccount` per caller label (the bounded set of ServerContext.callerLabel, plus the
// peers' pseudo-caller for texts other nodes forward here), each with its own lock and windows.
// Writers add whole tallies: the event-loop hit path adds one per read burst (it counts hits into
// plain per-connection integers meanwhile), the async path one per request. Readers (INFO, /metrics,
// the snapshot) copy the windows under the same lock. The ledger belongs to the node, not to the
// cluster router, so a SIGHUP reload (a new ring, new peers) keeps every figure.
import EmbHash
import Synchronization

/// Prices the savings are shown at (from the cluster file's `savings:` section).
public struct SavingsPrices: Sendable, Equatable, Codable {
    /// What a hosted embedding API charges per million tokens (OpenAI's text-embedding-3-small lists $0.02).
    public var perMillionTokens = 0.02
    /// What an hour of one of our CPUs costs.
    public var perCPUHour = 0.04
    public var currency = "USD"
    public init() {}
}

/// One caller's account: its windows behind its own lock, and its bit in the overlap sample.
public final class CallerAccount: Sendable {
    public let name: String
    /// The caller's bit in the overlap sample's masks.
    public let bit: Int
    private let windows = Mutex(TallyWindows())

    init(name: String, bit: Int) {
        self.name = name
        self.bit = bit
    }

    /// Adds a tally that happened at `now`.
    public func record(_ tally: Tally, now: Double) {
        self.windows.withLock { $0.add(tally, now: now) }
    }

    /// A copy of the windows.
    public var snapshot: TallyWindows { self.windows.withLock { $0 } }
}

/// The accounts of one node.
public final class SavingsLedger: Sendable {
    /// Accounts (and overlap bits) at most; later labels share the last one. ServerContext keeps
    /// 32 caller names plus "other" and "anonymous", so this is never reached in practice.
    public static let maxAccounts = 64
    /// The pseudo-caller of texts other nodes forward here (their callers are counted where they asked).
    public static let peersName = "(peers)"

    private let accounts = Mutex<[String: CallerAccount]>([:])
    private let order = Mutex<[CallerAccount]>([])
    public let overlap: OverlapSample
    private let priceState = Mutex(SavingsPrices())
    /// The audit log, when the cluster file turns it on (set once at start).
    private let auditState = Mutex<AuditLog?>(nil)

    public init(overlapCapacity: Int = OverlapSample.defaultCapacity) {
        self.overlap = OverlapSample(capacity: overlapCapacity)
    }

    /// The account of `caller` (made on first use).
    public func account(_ caller: String) -> CallerAccount {
        self.accounts.withLock { m in
            if let a = m[caller] { return a }
            if m.count >= Self.maxAccounts, let last = self.order.withLock({ $0.last }) { return last }
            let a = CallerAccount(name: caller, bit: m.count)
            m[caller] = a
            self.order.withLock { $0.append(a) }
            return a
        }
    }

    /// The account of texts forwarded here by peers.
    public var peers: CallerAccount { self.account(Self.peersName) }

    /// Every account, in the order they were made (their overlap bits).
    public var all: [CallerAccount] { self.order.withLock { $0 } }

    public var prices: SavingsPrices {
        get { self.priceState.withLock { $0 } }
        set { self.priceState.withLock { $0 = newValue } }
    }

    /// The audit log; nil when off (the hit path checks this once per burst).
    public var audit: AuditLog? {
        get { self.auditState.withLock { $0 } }
        set { self.auditState.withLock { $0 = newValue } }
    }

}
