// How often a refused connection is logged: one line per (kind, door, client address) per minute. A
// client that keeps retrying with the wrong setup (a peer or health check without TLS, a peer with a
// certificate of another CA) would otherwise write a line every few hundred milliseconds; the line
// after a quiet minute says how many were refused without one in between.
import NIOCore
import Synchronization

public final class RefusalLog: Sendable {
    private struct Entry {
        var since: NIODeadline
        var unlogged: Int
    }
    private let entries = Mutex<(table: [String: Entry], totals: [Kind: Int])>(([:], [:]))

    /// What was refused.
    public enum Kind: String, Sendable { case plaintext, handshake }

    /// Refusals of `kind` since start, logged or not (INFO tls).
    public func total(_ kind: Kind) -> Int { self.entries.withLock { $0.totals[kind, default: 0] } }
    let window: TimeAmount
    /// Addresses remembered at most; past it the table starts over (a flood of addresses then logs
    /// more lines, never more memory).
    public static let maxEntries = 1024

    public init(window: TimeAmount = .seconds(60)) { self.window = window }

    /// nil: stay quiet (already logged within the window). Otherwise log now; the value is how many
    /// refusals of `key` went unlogged since its previous line.
    public func admit(_ kind: Kind, _ key: String, now: NIODeadline = .now()) -> Int? {
        self.entries.withLock { state in
            state.totals[kind, default: 0] += 1
            if var entry = state.table[key], now - entry.since < self.window {
                entry.unlogged += 1
                state.table[key] = entry
                return nil
            }
            let unlogged = state.table[key]?.unlogged ?? 0
            if state.table.count >= Self.maxEntries { state.table.removeAll() }
            state.table[key] = Entry(since: now, unlogged: 0)
            return unlogged
        }
    }

    /// The key of a refusal: what was refused, at which door, from which address (the port varies per connection).
    func admit(_ kind: Kind, _ door: NodeTLS.Door, _ remote: SocketAddress?) -> Int? {
        self.admit(kind, "\(kind.rawValue) \(door.rawValue) \(remote?.ipAddress ?? "?")")
    }
}
