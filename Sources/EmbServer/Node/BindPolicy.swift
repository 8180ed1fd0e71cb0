// Where a node may listen without a secret. The defaults are loopback (127.0.0.1), where only this
// machine's processes can reach the node. Listening anywhere else with no secret would hand every
// host on the network the cache, INVALIDATE and CLUSTER RELOAD, so the node refuses to start unless
// told `--insecure`, and then says so loudly at start.
import EmbCluster
import Logging

/// The start-time check of listen addresses against the secret.
public enum BindPolicy {
    /// Throws when a listener is beyond loopback, no secret is set and `insecure` is not given.
    public static func check(_ options: NodeOptions, logger: Logger) throws {
        guard options.secret == nil else { return }
        let exposed = [("RESP", options.respHost, options.respPort), ("HTTP", options.httpHost, options.httpPort)]
            .filter { !Self.isLoopback($0.1) }
        guard let first = exposed.first else { return }
        let list = exposed.map { "\($0.0) \($0.1):\($0.2)" }.joined(separator: ", ")
        guard options.insecure else {
            throw BindPolicyError(
                "refusing to listen on \(list) without a secret: anyone who can reach \(first.1) could read the cache, INVALIDATE it and "
                    + "reload the cluster. Set cluster.secret_file / secret_env (or --secret-file), bind 127.0.0.1, or pass --insecure."
            )
        }
        let banner = String(repeating: "!", count: 78)
        logger.critical("\(banner)")
        logger.critical("INSECURE: listening on \(list) with NO SECRET (--insecure). Any host that can reach it can use and clear the cache.")
        logger.critical("\(banner)")
    }

    /// 127.0.0.0/8, ::1 and "localhost". Anything else (a hostname, 0.0.0.0, ::) counts as exposed.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return false }
        return parts[0] == "127"
    }
}

/// A node that must not start with these listen addresses and no secret.
public struct BindPolicyError: Error, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { self.message }
}
