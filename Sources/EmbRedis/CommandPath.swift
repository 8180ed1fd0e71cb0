// How a reader or writer thread of RedisL2 reaches Redis: one connection to a plain Redis, or, in
// cluster mode, one connection per master with slot routing (ClusterPath). Each thread owns its path.

/// Runs a pipeline of commands; one reply per command, nil when Redis is unavailable (marked down).
protocol CommandPath: AnyObject {
    func execute(_ commands: [[[UInt8]]]) -> [RedisReply]?
}

/// The path to a single Redis: one connection, reopened after the health thread saw Redis come back.
final class SinglePath: CommandPath {
    private let l2: RedisL2
    private var connection: RedisConnection?
    private var generation = -1

    init(_ l2: RedisL2) { self.l2 = l2 }

    func execute(_ commands: [[[UInt8]]]) -> [RedisReply]? {
        let (up, current) = self.l2.state.withLock { ($0.up, $0.stats.reconnects) }
        guard up else {
            self.connection = nil
            return nil
        }
        if self.connection == nil || current != self.generation {
            self.connection = self.l2.connect(to: self.l2.configuration.node)
            self.generation = current
        }
        guard let connection = self.connection else {
            self.l2.markDown()
            return nil
        }
        let replies = self.l2.execute(commands, on: connection)
        if replies == nil { self.connection = nil }
        return replies
    }
}
