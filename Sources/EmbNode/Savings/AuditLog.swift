// The optional audit log (cluster file `savings.audit_log`, off by default): one JSON line per text
// answered — time, caller, cache key, tier, latency, tokens — and never the text itself. Lines are
// appended to an in-memory buffer under a lock and written by a thread of its own every 200 ms, so
// a request never waits for the disk; past 8 MiB of unwritten lines, new ones are dropped and
// counted (an audit log must not take the node down). When the file passes its size limit it is
// renamed to `<path>.1` (replacing the previous one) and a new file is started.
import EmbHash
import Foundation
import Synchronization

/// A size-rotated JSON-lines log of answered texts.
public final class AuditLog: Sendable {
    public let path: String
    public let maxBytes: Int
    static let maxPending = 8 << 20
    private let pending = Mutex<(lines: [UInt8], dropped: Int, stopped: Bool)>(([], 0, false))

    /// Opens (creates) the log; nil if the file cannot be written.
    public init?(path: String, maxBytes: Int) {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: nil) || FileManager.default.isWritableFile(atPath: path) else { return nil }
        if !FileManager.default.fileExists(atPath: path) { return nil }
        self.path = path
        self.maxBytes = maxBytes
        let thread = Thread { [self] in self.writer() }
        thread.name = "embcache-audit"
        thread.start()
    }

    /// Lines dropped because the writer fell behind.
    public var dropped: Int { self.pending.withLock { $0.dropped } }

    /// One line: `time` (seconds since the epoch), the caller, the key, the tier, the latency in
    /// microseconds (the request's, or its read burst's for event-loop hits) and the token count.
    public func write(time: Double, caller: String, key: CacheKey, tier: Tier, latencyMicros: Int, tokens: Int) {
        let line = "{\"time\":\(String(format: "%.6f", time)),\"caller\":\"\(Self.escape(caller))\",\"key\":\"\(key.hex)\",\"tier\":\"\(tier.rawValue)\",\"latency_us\":\(latencyMicros),\"tokens\":\(tokens)}\n"
        self.pending.withLock { p in
            if p.lines.count + line.utf8.count > Self.maxPending {
                p.dropped += 1
            } else {
                p.lines.append(contentsOf: line.utf8)
            }
        }
    }

    /// Writes what is pending, now, and stops the writer thread (graceful shutdown).
    public func stop() {
        let lines = self.pending.withLock { p -> [UInt8] in
            p.stopped = true
            defer { p.lines.removeAll() }
            return p.lines
        }
        if !lines.isEmpty { self.append(lines) }
    }

    private func writer() {
        while true {
            usleep(200_000)
            let (lines, stopped) = self.pending.withLock { p -> ([UInt8], Bool) in
                defer { p.lines.removeAll(keepingCapacity: true) }
                return (p.lines, p.stopped)
            }
            if !lines.isEmpty { self.append(lines) }
            if stopped { return }
        }
    }

    /// One writer at a time (the thread, or `stop`).
    private let writing = Mutex(())

    private func append(_ bytes: [UInt8]) {
        self.writing.withLock { _ in self.appendLocked(bytes) }
    }

    private func appendLocked(_ bytes: [UInt8]) {
        let size = (try? FileManager.default.attributesOfItem(atPath: self.path)[.size] as? Int) ?? 0
        if size + bytes.count > self.maxBytes && size > 0 {
            _ = try? FileManager.default.removeItem(atPath: self.path + ".1")
            _ = try? FileManager.default.moveItem(atPath: self.path, toPath: self.path + ".1")
            FileManager.default.createFile(atPath: self.path, contents: nil, attributes: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: self.path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(bytes))
    }

    /// Caller labels are already restricted to letters, digits and "-_." (ServerContext), plus
    /// "(peers)"; this keeps the line valid JSON whatever comes.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
