// `embcache warm --cluster FILE INPUT`: fills a cluster's caches from a .txt (a text a line) or .jsonl
// ({"text": ...} a line) file. Texts are deduplicated by cache key, routed client-side with the same
// ring the nodes use (the owner, or the next node clockwise when it does not answer), and sent as
// EMBED.WARM batches of 64 with 4 in flight. A terminal gets a progress bar; a pipe gets a line a
// second. Exit status 1 if any text failed.
import ArgumentParser
import EmbCluster
import EmbHash
import EmbModel
import EmbRedis
import EmbRing
import EmbTokenizer
import Foundation
import Synchronization

struct WarmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Warm a cluster's caches from a .txt or .jsonl file; prints already cached / computed / failed."
    )

    @Option(help: "The cluster file.") var cluster: String
    @Option(help: "The model to warm (a name of the cluster file's models; default: the first).") var model: String?
    @Option(help: "Texts per request.") var batch = 64
    @Option(help: "Requests in flight.") var concurrency = 4
    @Argument(help: "A .txt (one text a line) or .jsonl ({\"text\": ...} a line) file.") var input: String

    func run() throws {
        let file = try ClusterFile.load(path: self.cluster)
        guard let entry = self.model.map({ name in file.models.first { $0.name == name || $0.aliases.contains(name) } }) ?? file.models.first else {
            throw ValidationError("--model \(self.model ?? ""): the cluster file serves \(file.models.map(\.name).joined(separator: ", "))")
        }
        // The key is computed here as the nodes do (tokenizer, truncation, fingerprint): the texts are
        // grouped by owner and deduplicated by key before anything is sent.
        let model = try ModelKeys(directory: entry.path)
        let texts = try Self.texts(self.input)
        // Dedup by cache key: texts the model cannot tell apart are one entry.
        var seen = Set<CacheKey>()
        var work: [(text: String, key: CacheKey)] = []
        for t in texts {
            let key = model.key(t)
            if seen.insert(key).inserted { work.append((t, key)) }
        }
        let ring = HashRing(nodes: file.nodes.map { RingNode(id: $0.id, weight: $0.weight) }, vnodes: file.vnodes)
        let addresses = Dictionary(uniqueKeysWithValues: file.nodes.map { ($0.id, $0.resp) })
        var byOwner: [String: [String]] = [:]
        for w in work { byOwner[ring.owner(of: w.key.ringPosition) ?? file.nodes[0].id, default: []].append(w.text) }
        var batches: [(owner: String, texts: [String])] = []
        for (owner, list) in byOwner.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: list.count, by: max(1, self.batch)) {
                batches.append((owner, Array(list[start..<min(start + self.batch, list.count)])))
            }
        }
        let jobs = batches
        let progress = WarmProgress(total: work.count, duplicates: texts.count - work.count)
        let next = Atomic<Int>(0)
        let down = Mutex<Set<String>>([])
        let credentials = file.secret.map { RedisCredentials(username: nil, password: $0.reveal) }
        DispatchQueue.concurrentPerform(iterations: max(1, self.concurrency)) { _ in
            var connections: [String: RedisConnection] = [:]
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < jobs.count else { return }
                var tiers: [String]? = nil
                // The owner, then the next nodes clockwise (as the ring skips a down node).
                let order = [jobs[i].owner] + ring.nodeIDs.filter { $0 != jobs[i].owner }
                for id in order where !down.withLock({ $0.contains(id) }) || id == order.last {
                    guard let address = addresses[id] else { continue }
                    if connections[id] == nil {
                        connections[id] = try? RedisConnection.connect(host: address.host, port: address.port, db: 0, credentials: credentials,
                                                                       connectTimeout: 0.5, commandTimeout: 120).get()
                        // A model other than the default is selected once per connection.
                        if entry.name != file.models[0].name, let c = connections[id],
                           c.command(["CLIENT", "SETMODEL", entry.name].map { Array($0.utf8) }) != .status("OK") {
                            connections[id] = nil
                        }
                    }
                    if let c = connections[id], case .array(let items)? = c.command([Array("EMBED.WARM".utf8)] + jobs[i].texts.map { Array($0.utf8) }) {
                        tiers = items.compactMap { if case .string(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }
                        break
                    }
                    connections[id] = nil
                    down.withLock { _ = $0.insert(id) }
                }
                progress.record(tiers, count: jobs[i].texts.count)
            }
        }
        progress.finish()
        if progress.failed > 0 { throw ExitCode(1) }
    }

    static func texts(_ path: String) throws -> [String] {
        if path.hasSuffix(".jsonl") { return try JSONLines.texts(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationErrorMessage("cannot read \(path)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
    }
}

/// Counts and the progress display of a warm run.
final class WarmProgress: @unchecked Sendable {
    private let lock = NSLock()
    let total: Int
    let duplicates: Int
    private(set) var cached = 0
    private(set) var computed = 0
    private(set) var failed = 0
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let terminal = isatty(2) != 0

    init(total: Int, duplicates: Int) {
        self.total = total
        self.duplicates = duplicates
    }

    func record(_ tiers: [String]?, count: Int) {
        self.lock.lock()
        defer { self.lock.unlock() }
        if let tiers, tiers.count == count {
            for t in tiers {
                if t == "l1" || t == "l2" { self.cached += 1 } else { self.computed += 1 }
            }
        } else {
            self.failed += count
        }
        if Date().timeIntervalSince(self.lastDraw) >= (self.terminal ? 0.1 : 1) { self.draw() }
    }

    private func draw() {
        self.lastDraw = Date()
        let done = self.cached + self.computed + self.failed
        let elapsed = max(Date().timeIntervalSince(self.start), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(self.total - done) / rate : 0
        let status = String(format: "%d/%d texts  %.0f texts/s  ETA %.0fs  cached %d  computed %d  failed %d",
                            done, self.total, rate, eta, self.cached, self.computed, self.failed)
        if self.terminal {
            let width = 30
            let filled = self.total > 0 ? width * done / self.total : width
            FileHandle.standardError.write(Data(("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + status).utf8))
        } else {
            FileHandle.standardError.write(Data(("warm: " + status + "\n").utf8))
        }
    }

    func finish() {
        self.lock.lock()
        self.draw()
        if self.terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        print("already cached: \(self.cached), computed: \(self.computed), failed: \(self.failed) (of \(self.total) distinct texts; \(self.duplicates) duplicates skipped)")
        self.lock.unlock()
    }
}
