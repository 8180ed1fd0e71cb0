// Where a node's Redis (L2) is, and how to log in to it: `HOST:PORT[/DB]` (the original form) or a
// URL `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` as redis-py and most Redis tools take it. USER and
// PASSWORD may be percent-encoded (a password with '@' or ':' in it). The password is a `Secret`,
// so the address prints as `redis://user:<redacted>@host:port/db`; errors never echo the text given.
// `rediss://` (TLS) is refused: the hiredis build linked here has no TLS.
//
// `cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]` names a Redis Cluster by its seed nodes
// (any of its masters or replicas; the node reads the rest from CLUSTER SLOTS). A cluster has only
// database 0, so no /DB is taken.
import Foundation

extension ClusterFile {
    /// A Redis address with optional ACL user and password.
    public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var db: Int
        /// ACL user (Redis 6+); nil = the default user.
        public var username: String?
        /// Sent with AUTH on every connection; nil = no AUTH.
        public var password: Secret?
        /// The seed nodes of a Redis Cluster (`cluster://`), first one = host:port; empty = one Redis.
        public var clusterSeeds: [Seed] = []

        /// One `HOST:PORT` of a `cluster://` address.
        public struct Seed: Sendable, Equatable {
            public var host: String
            public var port: Int
            public init(host: String, port: Int) { (self.host, self.port) = (host, port) }
        }

        public init(host: String, port: Int, db: Int, username: String? = nil, password: Secret? = nil) {
            (self.host, self.port, self.db, self.username, self.password) = (host, port, db, username, password)
        }

        /// Whether this names a Redis Cluster (cluster mode) rather than one Redis.
        public var isCluster: Bool { !self.clusterSeeds.isEmpty }

        /// The address with the password redacted, for logs and INFO.
        public var description: String {
            let user = self.username ?? ""
            let pass = self.password == nil ? "" : ":<redacted>"
            let login = self.password != nil || self.username != nil ? "\(user)\(pass)@" : ""
            if self.isCluster { return "cluster://\(login)" + self.clusterSeeds.map { "\($0.host):\($0.port)" }.joined(separator: ",") }
            guard !login.isEmpty else { return "\(self.host):\(self.port)/\(self.db)" }
            return "redis://\(login)\(self.host):\(self.port)/\(self.db)"
        }

        /// Parses any form; the error says what is wrong without repeating the text (it may hold a password).
        public static func parse(_ text: String) throws(RedisAddressError) -> RedisAddress {
            var rest = Substring(text)
            var username: String? = nil
            var password: Secret? = nil
            if text.hasPrefix("rediss://") { throw RedisAddressError("TLS (rediss://) is not supported; use redis://") }
            let isCluster = text.hasPrefix("cluster://")
            if text.hasPrefix("redis://") || isCluster {
                rest = rest.dropFirst(isCluster ? "cluster://".count : "redis://".count)
                if let at = rest.lastIndex(of: "@") {
                    let userinfo = rest[..<at]
                    rest = rest[rest.index(after: at)...]
                    // USER alone is allowed: its password may come from redis_password_env / _file.
                    let colon = userinfo.firstIndex(of: ":") ?? userinfo.endIndex
                    guard let user = String(userinfo[..<colon]).removingPercentEncoding,
                        let pass = String(userinfo[colon...].dropFirst()).removingPercentEncoding
                    else { throw RedisAddressError("the user or password is badly percent-encoded") }
                    username = user.isEmpty ? nil : user
                    password = pass.isEmpty ? nil : Secret(pass)
                }
            } else if text.contains("@") || text.contains("://") {
                throw RedisAddressError("expected HOST:PORT[/DB], redis://[USER:PASSWORD@]HOST:PORT[/DB] or cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]")
            }
            if isCluster { return try Self.cluster(seeds: rest, username: username, password: password) }
            let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let address = parts.first ?? ""
            guard let colon = address.lastIndex(of: ":"), !address[..<colon].isEmpty,
                let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
            else { throw RedisAddressError("expected HOST:PORT with a port from 1 to 65535") }
            var db = 0
            if parts.count > 1, !(parts[1].isEmpty && text.hasPrefix("redis://")) {
                guard let n = Int(parts[1]), n >= 0 else { throw RedisAddressError("the database must be a whole number >= 0") }
                db = n
            }
            return RedisAddress(host: String(address[..<colon]), port: port, db: db, username: username, password: password)
        }

        /// The seeds of a `cluster://` address (after the login).
        private static func cluster(seeds text: Substring, username: String?, password: Secret?) throws(RedisAddressError) -> RedisAddress {
            if text.contains("/") { throw RedisAddressError("a Redis Cluster has only database 0: no /DB after cluster://") }
            let seeds = try text.split(separator: ",", omittingEmptySubsequences: false).map { seed throws(RedisAddressError) -> Seed in
                guard let colon = seed.lastIndex(of: ":"), !seed[..<colon].isEmpty,
                    let port = Int(seed[seed.index(after: colon)...]), (1...65535).contains(port)
                else { throw RedisAddressError("cluster:// expects HOST:PORT[,HOST:PORT...] with ports from 1 to 65535") }
                return Seed(host: String(seed[..<colon]), port: port)
            }
            var address = RedisAddress(host: seeds[0].host, port: seeds[0].port, db: 0, username: username, password: password)
            address.clusterSeeds = seeds
            return address
        }
    }
}

/// Why a Redis address was refused (the message never contains the address text).
public struct RedisAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}
