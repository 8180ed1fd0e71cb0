// The dynamic batcher in front of the encoder: misses from all connections wait in one bounded queue,
// and whenever the encoder is free it takes what is queued, up to `maxBatch` texts (batch 32 is ~1.5x
// the throughput of batch 1 on this model, Docs/benchmarks.md). It never waits for a fuller batch:
// while one batch computes, the next one gathers by itself (continuous batching, as TEI does), so
// under load batches fill up and a lone miss is computed at once. (Until 2026-12-03 it waited up to
// 2 ms for 32 texts; with 16 concurrent clients that was 2 ms of idle encoder per batch.) Texts are
// taken shortest first among those waiting, so a batch holds similar lengths (attention per text and
// the GEMM row tiles favour them). The encoder runs on its own thread: it is CPU-bound for
// milliseconds and must not hold a Swift-concurrency or event-loop thread. When the queue is full,
// `submit` throws `NodeError.busy` instead of growing (RESP -BUSY, HTTP 503).
import EmbModel
import Foundation
import Synchronization

/// Batches token sequences into the encoder.
public final class EncoderBatcher: Sendable {
    public struct Configuration: Sendable {
        public var maxBatch = 32
        public var queueLimit = 4096
        public init() {}
    }

    struct Pending: Sendable {
        let ids: [Int32]
        let continuation: CheckedContinuation<Encoded, any Error>
    }

    /// A vector and its share of its batch's encoder time (the batch's seconds × its tokens / the
    /// batch's tokens), which the savings ledger charges to the caller that caused it.
    public struct Encoded: Sendable {
        public let vector: [Float]
        public let seconds: Double
    }

    private let encoder: BertEncoder
    private let configuration: Configuration
    private let queue = Mutex<(items: [Pending], stopped: Bool)>(([], false))
    private let signal = NSCondition()
    /// Batches run and texts encoded, for metrics.
    let counters = Mutex<(batches: Int, texts: Int, tokens: Int, seconds: Double)>((0, 0, 0, 0))
    /// seconds / tokens of the counters above as Double bits, readable without the lock (the hit
    /// path values every duplicate at it, once per read burst).
    private let meanSecondsPerToken = Atomic<UInt64>(0)

    public init(encoder: BertEncoder, configuration: Configuration = Configuration()) {
        self.encoder = encoder
        self.configuration = configuration
        let thread = Thread { [self] in self.loop() }
        thread.name = "embcache-batcher"
        thread.start()
    }

    /// The vector of `ids`, computed in some batch. Throws `NodeError.busy` when the queue is full.
    public func submit(_ ids: [Int32]) async throws -> [Float] { try await self.submitTimed(ids).vector }

    /// `submit`, with the text's share of the encoder time.
    public func submitTimed(_ ids: [Int32]) async throws -> Encoded {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = self.queue.withLock { q -> Bool in
                guard !q.stopped, q.items.count < self.configuration.queueLimit else { return false }
                q.items.append(Pending(ids: ids, continuation: continuation))
                return true
            }
            if accepted {
                self.signal.lock()
                self.signal.signal()
                self.signal.unlock()
            } else {
                continuation.resume(throwing: NodeError.busy)
            }
        }
    }

    /// Texts waiting for the encoder.
    public var depth: Int { self.queue.withLock { $0.items.count } }

    /// Stops taking work; what is queued is still computed.
    public func stop() {
        self.queue.withLock { $0.stopped = true }
        self.signal.lock()
        self.signal.broadcast()
        self.signal.unlock()
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    private func loop() {
        while true {
            var batch: [Pending] = []
            self.signal.lock()
            while true {
                let (count, stopped) = self.queue.withLock { ($0.items.count, $0.stopped) }
                if count == 0 && stopped {
                    self.signal.unlock()
                    return
                }
                if count > 0 { break }  // whatever is queued is the batch: never wait for more
                self.signal.wait()
            }
            self.signal.unlock()
            batch = self.queue.withLock { q in
                // Shortest first among what is waiting, so a batch holds similar lengths.
                let order = q.items.indices.sorted { q.items[$0].ids.count < q.items[$1].ids.count }
                let take = Set(order.prefix(self.configuration.maxBatch))
                let chosen = q.items.indices.filter { take.contains($0) }.map { q.items[$0] }
                q.items = q.items.indices.filter { !take.contains($0) }.map { q.items[$0] }
                return chosen
            }
            guard !batch.isEmpty else { continue }
            let start = Self.now()
            let vectors = self.encoder.embed(batch.map(\.ids))
            let elapsed = Self.now() - start
            let tokens = batch.reduce(0) { $0 + $1.ids.count }
            let mean = self.counters.withLock {
                $0.batches += 1
                $0.texts += batch.count
                $0.tokens += tokens
                $0.seconds += elapsed
                return $0.tokens > 0 ? $0.seconds / Double($0.tokens) : 0
            }
            self.meanSecondsPerToken.store(mean.bitPattern, ordering: .relaxed)
            for (pending, vector) in zip(batch, vectors) {
                let share = tokens > 0 ? elapsed * Double(pending.ids.count) / Double(tokens) : elapsed / Double(batch.count)
                pending.continuation.resume(returning: Encoded(vector: vector, seconds: share))
            }
        }
    }
}

/// Errors a request can end with; each maps to a RESP error code and an HTTP status.
public enum NodeError: Error, Equatable, Sendable {
    /// The encoder queue is full: try again later (RESP -BUSY, HTTP 503).
    case busy
    /// A text is not valid UTF-8 (RESP -ERR, HTTP 400).
    case invalidUTF8(index: Int)
    /// A text is over the size limit (RESP -TOOBIG, HTTP 413).
    case textTooLarge(index: Int, bytes: Int, limit: Int)
    /// More texts than allowed in one request (RESP -TOOBIG, HTTP 413).
    case tooManyTexts(count: Int, limit: Int)

    /// The Redis-style error line (without the leading '-').
    public var redisError: String {
        switch self {
        case .busy: return "BUSY encoder queue is full, try again later"
        case .invalidUTF8(let i): return "ERR text \(i) is not valid UTF-8"
        case .textTooLarge(let i, let bytes, let limit): return "TOOBIG text \(i) has \(bytes) bytes, the limit is \(limit)"
        case .tooManyTexts(let n, let limit): return "TOOBIG \(n) texts in one request, the limit is \(limit)"
        }
    }
}

extension EncoderBatcher {
    /// Batches run, texts and tokens encoded, and seconds spent in the encoder.
    public var stats: (batches: Int, texts: Int, tokens: Int, seconds: Double) { self.counters.withLock { $0 } }

    /// The running mean encoder seconds per token since start (0 before the first batch).
    public var secondsPerToken: Double { Double(bitPattern: self.meanSecondsPerToken.load(ordering: .relaxed)) }
}
