// Connections to one peer node. Peers speak RESP, so this is hiredis again (EmbRedis's
// RedisConnection) on two threads of our own, each with its own connection: blocking calls never
// hold a Swift-concurrency thread. A failed call drops its connection; the next call reconnects.
import EmbCluster
import EmbRedis
import Foundation

final class PeerClient: @unchecked Sendable {
    let id: String
    let host: String
    let port: Int
    private let secret: Secret?
    private let condition = NSCondition()
    private var jobs: [(RedisConnection?) -> RedisConnection?] = []  // guarded by condition
    /// Pending PEER.MEMBED fetches, merged into one request by the next free thread (guarded by condition).
    private var fetches: [(texts: [[UInt8]], model: String?, done: ([RedisReply]?) -> Void)] = []
    /// Texts merged into one PEER.MEMBED at most.
    static let maxMergedTexts = 256
    private var closed = false  // guarded by condition
    /// A forwarded miss may wait in the owner's batcher behind others: be patient, but not forever.
    static let commandTimeout = 10.0
    static let connectTimeout = 0.3

    init(id: String, host: String, port: Int, secret: Secret?, threads: Int = 2) {
        (self.id, self.host, self.port, self.secret) = (id, host, port, secret)
        for i in 0..<threads {
            let thread = Thread { [self] in self.loop() }
            thread.name = "embcache-peer-\(id)-\(i)"
            thread.start()
        }
    }

    /// Opens a connection and authenticates when the cluster has a secret.
    static func connect(host: String, port: Int, secret: Secret?, timeout: Double) -> RedisConnection? {
        let credentials = secret.map { RedisCredentials(username: nil, password: $0.reveal) }
        return try? RedisConnection.connect(host: host, port: port, db: 0, credentials: credentials, connectTimeout: connectTimeout,
                                            commandTimeout: timeout).get()
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

    /// PEER.MEMBED of `texts` (PEER.MEMBED.IN `model` for a model other than the default), merged with
    /// other callers' pending fetches of the same model into one request: concurrent forwards to one
    /// owner cost one round trip, not one each. Nil on failure.
    func fetch(_ texts: [[UInt8]], model: String? = nil) async -> [RedisReply]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[RedisReply]?, Never>) in
            self.condition.lock()
            if self.closed {
                self.condition.unlock()
                continuation.resume(returning: nil)
                return
            }
            self.fetches.append((texts, model, { continuation.resume(returning: $0) }))
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
            while self.jobs.isEmpty && self.fetches.isEmpty && !self.closed { self.condition.wait() }
            if self.jobs.isEmpty && self.fetches.isEmpty {
                self.condition.unlock()
                return
            }
            if !self.jobs.isEmpty {
                let job = self.jobs.removeFirst()
                self.condition.unlock()
                connection = job(connection)
                continue
            }
            // The first pending fetch's model, and every other pending fetch of that model that fits.
            let model = self.fetches[0].model
            var batch: [(texts: [[UInt8]], model: String?, done: ([RedisReply]?) -> Void)] = []
            var count = 0
            self.fetches.removeAll { f in
                guard f.model == model, batch.isEmpty || count + f.texts.count <= Self.maxMergedTexts else { return false }
                count += f.texts.count
                batch.append(f)
                return true
            }
            self.condition.unlock()
            let c = connection ?? Self.connect(host: self.host, port: self.port, secret: self.secret, timeout: Self.commandTimeout)
            var items: [RedisReply]? = nil
            let name = model.map { [Array("PEER.MEMBED.IN".utf8), Array($0.utf8)] } ?? [Array("PEER.MEMBED".utf8)]
            if let c, case .array(let all)? = c.command(name + batch.flatMap(\.texts)), all.count == count || all.count == count + 1 {
                items = all
                connection = c
            } else {
                connection = nil
            }
            // The owner's tier codes, one byte a text, when it sent them (PeerTiers): split like the vectors.
            var codes: [UInt8]? = nil
            if let items, items.count == count + 1, case .string(let c) = items[count], c.count == count { codes = c }
            var offset = 0
            for f in batch {
                f.done(items.map { all in
                    Array(all[offset..<offset + f.texts.count]) + (codes.map { [.string(Array($0[offset..<offset + f.texts.count]))] } ?? [])
                })
                offset += f.texts.count
            }
        }
    }
}
