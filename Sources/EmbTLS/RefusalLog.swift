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
    private let entries = Mutex<[String: Entry]>([:])
    let window: TimeAmount
    /// Addresses remembered at most; past it the table starts over (a flood of addresses then logs
    /// more lines, never more memory).
    public static let maxEntries = 1024

    public init(window: TimeAmount = .seconds(60)) { self.window = window }

    /// nil: stay quiet (already logged within the window). Otherwise log now; the value is how many
    /// refusals of `key` went unlogged since its previous line.
    public func admit(_ key: String, now: NIODeadline = .now()) -> Int? {
        self.entries.withLock { table in
            if var entry = table[key], now - entry.since < self.window {
                entry.unlogged += 1
                table[key] = entry
                return nil
            }
            let unlogged = table[key]?.unlogged ?? 0
            if table.count >= Self.maxEntries { table.removeAll() }
            table[key] = Entry(since: now, unlogged: 0)
            return unlogged
        }
    }

    /// The key of a refusal: what was refused, at which door, from which address (the port varies per connection).
    static func key(_ kind: String, _ door: NodeTLS.Door, _ remote: SocketAddress?) -> String {
        "\(kind) \(door.rawValue) \(remote?.ipAddress ?? "?")"
    }
}
