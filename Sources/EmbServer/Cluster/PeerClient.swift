// Connections to one peer node. Peers speak RESP, so this is hiredis again (EmbRedis's
// RedisConnection) on two threads of our own, each with its own connection: blocking calls never
// hold a Swift-concurrency thread. A failed call drops its connection; the next call reconnects.
import EmbRedis
import Foundation

final class PeerClient: @unchecked Sendable {
    let id: String
    let host: String
    let port: Int
    private let secret: String?
    private let condition = NSCondition()
    private var jobs: [(RedisConnection?) -> RedisConnection?] = []  // guarded by condition
    private var closed = false  // guarded by condition
    /// A forwarded miss may wait in the owner's batcher behind others: be patient, but not forever.
    static let commandTimeout = 10.0
    static let connectTimeout = 0.3

    init(id: String, host: String, port: Int, secret: String?, threads: Int = 2) {
        (self.id, self.host, self.port, self.secret) = (id, host, port, secret)
        for i in 0..<threads {
            let thread = Thread { [self] in self.loop() }
            thread.name = "embcache-peer-\(id)-\(i)"
            thread.start()
        }
    }

    /// Opens a connection and authenticates when the cluster has a secret.
    static func connect(host: String, port: Int, secret: String?, timeout: Double) -> RedisConnection? {
        guard let c = RedisConnection(host: host, port: port, db: 0, connectTimeout: connectTimeout, commandTimeout: timeout) else { return nil }
        if let secret {
            guard case .status("OK") = c.command([Array("AUTH".utf8), Array(secret.utf8)]) else { return nil }
        }
        return c
    }

    /// One command; nil when the peer cannot be reached or the call fails.
    func call(_ args: [[UInt8]]) async -> RedisReply? {
        await withCheckedContinuation { (continuation: CheckedContinuation<RedisReply?, Never>) in
            let job: (RedisConnection?) -> RedisConnection? = { existing in
                let connection = existing ?? Self.connect(host: self.host, port: self.port, secret: self.secret, timeout: Self.commandTimeout)
                guard let connection, let reply = connection.command(args) else {
                    continuation.resume(returning: nil)
                    return nil
                }
                continuation.resume(returning: reply)
                return connection
            }
            self.condition.lock()
            if self.closed {
                self.condition.unlock()
                continuation.resume(returning: nil)
                return
            }
            self.jobs.append(job)
            self.condition.signal()
            self.condition.unlock()
        }
    }

    func close() {
        self.condition.lock()
        self.closed = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    private func loop() {
        var connection: RedisConnection? = nil
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.closed { self.condition.wait() }
            if self.jobs.isEmpty {
                self.condition.unlock()
                return
            }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            connection = job(connection)
        }
    }
}
