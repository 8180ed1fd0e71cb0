// Secrets in the cluster file: inline (`secret: ...`), or named — `secret_env: VAR` reads an
// environment variable, `secret_file: path` a file (relative to the cluster file's folder). At most
// one of the three may be given. The node's Redis password works the same way
// (`redis_password_env`, `redis_password_file`), overriding a password in its `redis:` URL.
import Foundation
import Yams

extension ClusterFile {
    /// What reading a named secret needs: the environment and the folder relative paths start from.
    struct SecretContext {
        let baseDirectory: String?
        let environment: [String: String]

        /// The secret given by one of `inline`, `env`, `file` in `mapping`; nil when none is.
        func read(_ mapping: Yams.Node.Mapping?, inline: String?, env: String, file: String, what: String) throws -> Secret? {
            var sources: [(key: String, source: SecretSource, line: Int?)] = []
            // By tag, not by text: `secret: "null"` (quoted) is a secret, `secret: null` / `~` is none.
            if let inline, let v = mapping?[inline], !ClusterFile.isNull(v), let s = v.string, !s.isEmpty {
                sources.append((inline, .inline(Secret(s)), ClusterFile.line(v)))
            }
            if let v = mapping?[env], !ClusterFile.isNull(v) {
                guard let name = v.string, !name.isEmpty else { throw ClusterFileError(.badValue, line: ClusterFile.line(v), "\(env) must name an environment variable") }
                sources.append((env, .environment(name), ClusterFile.line(v)))
            }
            if let v = mapping?[file], !ClusterFile.isNull(v) {
                guard let path = v.string, !path.isEmpty else { throw ClusterFileError(.badValue, line: ClusterFile.line(v), "\(file) must be a path") }
                sources.append((file, .file(path), ClusterFile.line(v)))
            }
            guard let first = sources.first else { return nil }
            guard sources.count == 1 else {
                throw ClusterFileError(.badSecret, line: sources[1].line, "\(what): give only one of \(sources.map(\.key).joined(separator: ", "))")
            }
            return try first.source.resolve(environment: self.environment, relativeTo: self.baseDirectory, what: what, line: first.line)
        }
    }
}
