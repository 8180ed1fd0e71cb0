// Parsing and validation of the cluster file, on Yams' node tree so every error has its line.
import Foundation
import Yams

extension ClusterFile {
    static let sections: [String: Set<String>] = [
        "cluster": ["name", "vnodes", "secret", "secret_env", "secret_file", "metrics_public"], "model": ["path"], "cache": ["l1_max_bytes", "ttl", "early_expiry_beta"],
        "savings": ClusterFile.savingsKeys, "tls": ClusterFile.tlsKeys,
    ]
    static let nodeKeys: Set<String> = ["id", "resp", "http", "redis", "redis_password_env", "redis_password_file", "weight", "tls"]

    /// Parses and validates YAML text (`source` names it in messages). Secrets named by `*_env` or
    /// `*_file` are read now, from `environment` and from files relative to `baseDirectory`.
    public static func parse(_ yaml: String, source: String = "<string>", baseDirectory: String? = nil,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ClusterFile {
        let root: Yams.Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw ClusterFileError(.missingField, line: 1, "\(source) is empty") }
            root = node
        } catch let error as ClusterFileError {
            throw error
        } catch {
            throw ClusterFileError(.syntax, line: Self.line(of: error), "\(source) is not valid YAML: \(error)")
        }
        guard let top = root.mapping else { throw ClusterFileError(.badValue, line: Self.line(root), "the cluster file must be a mapping") }
        var file = ClusterFile(name: "")
        for (key, value) in top {
            let k = key.string ?? ""
            if let allowed = Self.sections[k] {
                guard let section = value.mapping else { throw ClusterFileError(.badValue, line: Self.line(value), "'\(k)' must be a mapping") }
                for (sk, _) in section where !allowed.contains(sk.string ?? "") {
                    file.warnings.append(ClusterFileError(.unknownKey, line: Self.line(sk), "unknown key '\(k).\(sk.string ?? "")' ignored"))
                }
            } else if k != "nodes" && k != "models" {
                file.warnings.append(ClusterFileError(.unknownKey, line: Self.line(key), "unknown key '\(k)' ignored"))
            }
        }
        guard let clusterNode = top["cluster"] else { throw ClusterFileError(.missingField, line: Self.line(root), "missing 'cluster' (with its name)") }
        let cluster = clusterNode.mapping
        file.name = try Self.string(Self.required(cluster, "cluster.name", in: clusterNode), "cluster.name")
        if let v = cluster?["vnodes"] {
            guard let n = Int(v.string ?? ""), (1...Self.maxPointsPerNode).contains(n) else {
                throw ClusterFileError(.badValue, line: Self.line(v), "cluster.vnodes must be a whole number from 1 to \(Self.maxPointsPerNode)")
            }
            file.vnodes = n
        }
        let secrets = SecretContext(baseDirectory: baseDirectory, environment: environment)
        file.secret = try secrets.read(cluster, inline: "secret", env: "secret_env", file: "secret_file", what: "cluster secret")
        if let v = cluster?["metrics_public"] {
            guard let b = v.bool else { throw ClusterFileError(.badValue, line: Self.line(v), "cluster.metrics_public must be true or false") }
            file.metricsPublic = b
        }
        if let v = try Self.section(top, "model")?["path"] { file.modelPath = try Self.string(v, "model.path") }
        if let models = try Self.models(top["models"], warnings: &file.warnings) {
            if let single = top["model"] {
                throw ClusterFileError(.badValue, line: Self.line(single), "give either 'model' (one) or 'models' (a list), not both")
            }
            file.models = models
        }
        if let cache = try Self.section(top, "cache") {
            if let v = cache["l1_max_bytes"] {
                guard let n = Units.bytes(v.string ?? "") else { throw ClusterFileError(.badValue, line: Self.line(v), "cache.l1_max_bytes: '\(v.string ?? "")' is not a size like 256MiB") }
                file.l1MaxBytes = n
            }
            if let v = cache["ttl"] {
                // The bound keeps `Int(ttl)` (Redis EX) from trapping; 100 years is past any cache's need.
                guard let t = Units.seconds(v.string ?? ""), t > 0, t <= Self.maxTTLSeconds else {
                    throw ClusterFileError(.badValue, line: Self.line(v), "cache.ttl: '\(v.string ?? "")' is not a duration like 24h (more than 0, at most 100 years)")
                }
                file.ttlSeconds = t
            }
            if let v = cache["early_expiry_beta"] {
                guard let b = Double(v.string ?? ""), b.isFinite, b >= 0 else { throw ClusterFileError(.badValue, line: Self.line(v), "cache.early_expiry_beta must be a number >= 0") }
                file.earlyExpiryBeta = b
            }
        }
        file.savings = try Self.savings(Self.section(top, "savings"))
        file.tls = try Self.tls(top["tls"], baseDirectory: baseDirectory)
        guard let nodesNode = top["nodes"] else { throw ClusterFileError(.missingField, line: Self.line(root), "missing 'nodes'") }
        guard let list = nodesNode.sequence, !list.isEmpty else { throw ClusterFileError(.badValue, line: Self.line(nodesNode), "'nodes' must be a non-empty list") }
        var addresses: [String: String] = [:]
        for item in list {
            var node = try Self.node(item, vnodes: file.vnodes, secrets: secrets, warnings: &file.warnings)
            node.tlsIdentity = try Self.nodeTLS(item.mapping?["tls"], id: node.id, baseDirectory: baseDirectory, warnings: &file.warnings)
            if node.tlsIdentity != nil && file.tls == nil {
                throw ClusterFileError(.badValue, line: Self.line(item), "node \(node.id) has a tls entry but the file has no 'tls' section (with the CA)")
            }
            if file.nodes.contains(where: { $0.id == node.id }) {
                throw ClusterFileError(.duplicateNode, line: Self.line(item), "node id '\(node.id)' appears twice")
            }
            for address in ["\(node.resp)", "\(node.http)"] {
                if let other = addresses[address] {
                    throw ClusterFileError(.duplicateAddress, line: Self.line(item), "address \(address) of node '\(node.id)' is also used by node '\(other)'")
                }
                addresses[address] = node.id
            }
            file.nodes.append(node)
        }
        return file
    }

    private static func node(_ item: Yams.Node, vnodes: Int, secrets: SecretContext, warnings: inout [ClusterFileError]) throws -> Node {
        guard let m = item.mapping else { throw ClusterFileError(.badValue, line: Self.line(item), "a node must be a mapping (id, resp, http, redis)") }
        for (k, _) in m where !Self.nodeKeys.contains(k.string ?? "") {
            warnings.append(ClusterFileError(.unknownKey, line: Self.line(k), "unknown node key '\(k.string ?? "")' ignored"))
        }
        let id = try Self.string(Self.required(m, "id", in: item), "id")
        let resp = try Self.hostPort(Self.required(m, "resp", in: item), "node \(id) resp")
        let http = try Self.hostPort(Self.required(m, "http", in: item), "node \(id) http")
        var redis: RedisAddress? = nil
        if let r = m["redis"], !Self.isNull(r) {
            do {
                redis = try RedisAddress.parse(r.string ?? "")
            } catch {
                // Not echoing the value: it may carry a password.
                throw ClusterFileError(.badValue, line: Self.line(r), "node \(id) redis: \(error)")
            }
            if let password = try secrets.read(m, inline: nil, env: "redis_password_env", file: "redis_password_file", what: "node \(id) redis password") {
                redis?.password = password
            }
            if redis?.username != nil && redis?.password == nil {
                throw ClusterFileError(.badSecret, line: Self.line(r), "node \(id) redis: a user name needs a password (in the URL, redis_password_env or redis_password_file)")
            }
        }
        var weight = 1.0
        if let w = m["weight"] {
            // The ring places round(vnodes × weight) points: at least one, and few enough to build.
            guard let v = Double(w.string ?? ""), v.isFinite, v > 0, (1...Double(Self.maxPointsPerNode)).contains((Double(vnodes) * v).rounded()) else {
                throw ClusterFileError(.badValue, line: Self.line(w), "node \(id) weight must be a number > 0 giving 1 to \(Self.maxPointsPerNode) ring points (vnodes \(vnodes) × weight)")
            }
            weight = v
        }
        return Node(id: id, resp: resp, http: http, redis: redis, weight: weight)
    }

    private static func section(_ top: Yams.Node.Mapping, _ name: String) throws -> Yams.Node.Mapping? {
        guard let v = top[name] else { return nil }
        return v.mapping
    }

    private static func required(_ m: Yams.Node.Mapping?, _ key: String, in parent: Yams.Node) throws -> Yams.Node {
        let short = key.split(separator: ".").last.map(String.init) ?? key
        guard let v = m?[short] else { throw ClusterFileError(.missingField, line: Self.line(parent), "missing '\(key)'") }
        return v
    }

    private static func string(_ v: Yams.Node, _ what: String) throws -> String {
        guard let s = v.string, !s.isEmpty else { throw ClusterFileError(.badValue, line: Self.line(v), "\(what) must be a non-empty string") }
        return s
    }

    private static func hostPort(_ v: Yams.Node, _ what: String, line: Int? = nil) throws -> HostPort {
        let text = v.string ?? ""
        guard let colon = text.lastIndex(of: ":"), !text[..<colon].isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ClusterFileError(.badValue, line: line ?? Self.line(v), "\(what): '\(text)' is not HOST:PORT with a port from 1 to 65535")
        }
        return HostPort(host: String(text[..<colon]), port: port)
    }

    /// Bounds on values that later become `Int`s or arrays, so a typo is refused rather than trapping.
    static let maxPointsPerNode = 1_000_000
    static let maxTTLSeconds: Double = 100 * 365 * 86400

    /// A YAML null (`null`, `~`, empty), judged by the resolved tag so that quoted "null" stays a string.
    static func isNull(_ node: Yams.Node) -> Bool { node.tag.rawValue == Tag.Name.null.rawValue }

    static func line(_ node: Yams.Node) -> Int? { node.mark.map { $0.line } }

    static func line(of error: any Error) -> Int? {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
            default: return nil
            }
        }
        return nil
    }
}

/// Sizes ("256MiB", "1GB", "1048576") and durations ("24h", "30m", "90s", "1d", "500ms").
public enum Units {
    /// Bytes in a size: binary (KiB, MiB, GiB) or decimal (KB, MB, GB) units, B, or a bare count;
    /// nil if malformed, negative, or too large for an `Int`.
    public static func bytes(_ s: String) -> Int? {
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            // Bounded before converting: Int(Double) traps on inf or anything past Int.max.
            guard let v = Double(s.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0, v * scale < 0x1p62 else { return nil }
            return Int(v * scale)
        }
        guard let v = Int(s), v >= 0 else { return nil }
        return v
    }

    /// Seconds in a duration (ms, s, m, h, d, or bare seconds); nil if malformed or not finite.
    /// The sign is the caller's to judge (a TTL must be > 0).
    public static func seconds(_ s: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            if suffix == "s" && s.hasSuffix("ms") { continue }
            return Double(s.dropLast(suffix.count)).map { $0 * scale }.flatMap { $0.isFinite ? $0 : nil }
        }
        return Double(s).flatMap { $0.isFinite ? $0 : nil }
    }
}
