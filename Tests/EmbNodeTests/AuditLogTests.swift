// The audit log: JSON lines without the text, rotated by size to <path>.1.
import EmbHash
import EmbNode
import Foundation
import Testing

@Suite struct AuditLogTests {
    @Test func linesAreWrittenAndTheFileRotatesBySize() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/audit.jsonl"
        let log = try #require(AuditLog(path: path, maxBytes: 4096))
        let key = CacheKey(Hash128(high: 1, low: 2))
        for round in 0..<3 {
            for i in 0..<20 { log.write(time: 1e9 + Double(i), caller: "alpha", key: key, tier: .l1, latencyMicros: i, tokens: 12) }
            // The writer thread takes the pending lines every 200 ms; each round is one append.
            if round < 2 { Thread.sleep(forTimeInterval: 0.5) }
        }
        log.stop()
        let current = try String(contentsOfFile: path, encoding: .utf8)
        let rotated = try String(contentsOfFile: path + ".1", encoding: .utf8)
        for text in [current, rotated] {
            for line in text.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["key"] as? String == key.hex)
                #expect(object?["caller"] as? String == "alpha")
                #expect(object?["tokens"] as? Int == 12)
            }
        }
        #expect(current.utf8.count <= 4096 && rotated.utf8.count <= 4096)
        #expect(log.dropped == 0)
    }
}
