// A thread's way to a Redis Cluster: a connection per master, commands routed by the slot of their
// key (argument 1; a command with no key goes to any master), MOVED and ASK followed. Every
// command of a pipeline gets a reply: Redis's, or `unavailable` when its node could not be reached
// or it was redirected too often. A failing node is reported to the router and costs misses on its
// own keys only; Redis is never marked down from here (the health thread decides that from maps).

/// Slot-routed pipelines over per-master connections (owned by one thread).
final class ClusterPath: CommandPath {
    /// The reply of a command that could not be run (its node down, or too many redirects).
    static let unavailable = RedisReply.error("UNAVAILABLE no reachable owner for this slot")
    /// Tries per command: its owner, then up to two redirects (a MOVED then an ASK during a migration).
    static let maxAttempts = 3
    private let l2: RedisL2
    private let router: SlotRouter
    private var connections: [RedisNodeAddress: RedisConnection] = [:]
    private var generation = -1

    init(_ l2: RedisL2, router: SlotRouter) {
        (self.l2, self.router) = (l2, router)
    }

    private struct Routed {
        let index: Int
        /// Set after an ASK: send `ASKING` first, to this node.
        var askNode: RedisNodeAddress? = nil
        /// Set after a MOVED: the new owner (the map may be replaced meanwhile).
        var movedNode: RedisNodeAddress? = nil
    }

    func execute(_ commands: [[[UInt8]]]) -> [RedisReply]? {
        let (up, current) = self.l2.state.withLock { ($0.up, $0.stats.reconnects) }
        guard up else { return nil }
        if current != self.generation {
            self.connections.removeAll()
            self.generation = current
        }
        var replies = [RedisReply](repeating: Self.unavailable, count: commands.count)
        var todo = commands.indices.map { Routed(index: $0) }
        for _ in 0..<Self.maxAttempts where !todo.isEmpty {
            let map = self.router.map
            var byNode: [RedisNodeAddress: [Routed]] = [:]
            for item in todo {
                let args = commands[item.index]
                let owner = item.askNode ?? item.movedNode ?? (args.count > 1 ? map.owner(ofSlot: KeySlot.of(args[1])) : map.masters.first)
                guard let owner, self.router.isAvailable(owner) else { continue }
                byNode[owner, default: []].append(item)
            }
            todo = []
            // Every owner's commands are written before any reply is read: one overlapped round trip.
            var sent: [(node: RedisNodeAddress, connection: RedisConnection, items: [Routed])] = []
            for (node, items) in byNode {
                guard let connection = self.connection(node) else { continue }
                let written = items.allSatisfy { item in
                    (item.askNode == nil || connection.append([Array("ASKING".utf8)])) && connection.append(commands[item.index])
                }
                if written && connection.flush() { sent.append((node, connection, items)) } else { self.fail(node) }
            }
            for (node, connection, items) in sent {
                let expected = items.count + items.filter { $0.askNode != nil }.count
                guard var got = connection.readReplies(expected)?[...] else {
                    self.fail(node)
                    continue
                }
                for item in items {
                    if item.askNode != nil { _ = got.popFirst() }  // ASKING's +OK
                    guard let reply = got.popFirst() else { break }  // readReplies gave `expected`
                    if case .error(let message) = reply, let redirect = ClusterRedirect.parse(message) {
                        self.router.note(redirect)
                        todo.append(redirect.kind == .ask ? Routed(index: item.index, askNode: redirect.node)
                                                         : Routed(index: item.index, movedNode: redirect.node))
                    } else {
                        replies[item.index] = reply
                    }
                }
            }
        }
        return replies
    }

    /// The connection to `node`, opened when missing; nil (and the node reported) when it cannot be.
    private func connection(_ node: RedisNodeAddress) -> RedisConnection? {
        if let c = self.connections[node] { return c }
        guard let c = self.l2.connect(to: node) else {
            self.router.noteFailure(node)
            return nil
        }
        self.connections[node] = c
        return c
    }

    private func fail(_ node: RedisNodeAddress) {
        self.connections[node] = nil
        self.router.noteFailure(node)
    }
}
