// One blocking hiredis connection, owned by one thread. The only file that sees hiredis types:
// replies are copied into `RedisReply` values and freed (freeReplyObject) right where they are read.
import CHiredis
import Foundation

/// A reply, copied out of hiredis.
public enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case error(String)
    case integer(Int)
    case array([RedisReply])
    case null
}

/// A blocking connection with connect and command timeouts (to Redis, or to a peer node: both speak
/// RESP). Not thread-safe: one owner.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects, then AUTH (before anything else: a Redis with `requirepass` answers -NOAUTH until
    /// then), then SELECT. The failure says which step failed, with Redis's own message.
    public static func connect(host: String, port: Int, db: Int, credentials: RedisCredentials?, connectTimeout: Double,
                               commandTimeout: Double) -> Result<RedisConnection, RedisConnectError> {
        guard let c = redisConnectWithTimeout(host, Int32(port), Self.timeval(connectTimeout)) else {
            return .failure(RedisConnectError(.unreachable, "cannot allocate a connection"))
        }
        guard c.pointee.err == 0 else {
            let message = withUnsafeBytes(of: c.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            redisFree(c)
            return .failure(RedisConnectError(.unreachable, message))
        }
        redisSetTimeout(c, Self.timeval(commandTimeout))
        let connection = RedisConnection(taking: c)
        if let credentials {
            switch connection.command(credentials.authCommand) {
            case .status?: break
            case .error(let e)?: return .failure(RedisConnectError(.authRefused, e))
            default: return .failure(RedisConnectError(.authRefused, "no answer to AUTH"))
            }
        }
        if db != 0 {
            switch connection.command(["SELECT", "\(db)"].map { Array($0.utf8) }) {
            case .status?: break
            case .error(let e)?: return .failure(RedisConnectError(.selectRefused, e))
            default: return .failure(RedisConnectError(.selectRefused, "no answer to SELECT"))
            }
        }
        return .success(connection)
    }

    private init(taking context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        redisFree(self.context)
    }

    /// One command; nil on an I/O error or timeout (the connection is then unusable).
    public func command(_ args: [[UInt8]]) -> RedisReply? {
        self.withArgv(args) { argc, argv, lengths in
            guard let raw = redisCommandArgv(self.context, argc, argv, lengths) else { return nil }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            defer { freeReplyObject(raw) }
            return Self.copy(reply)
        }
    }

    /// Several commands in one round trip (hiredis buffers the appends and flushes on the first read).
    public func pipeline(_ commands: [[[UInt8]]]) -> [RedisReply]? {
        guard commands.allSatisfy({ self.append($0) }) else { return nil }
        return self.readReplies(commands.count)
    }

    /// Buffers one command (nothing is sent until `flush` or a read); false on an error.
    public func append(_ args: [[UInt8]]) -> Bool {
        self.withArgv(args) { argc, argv, lengths in redisAppendCommandArgv(self.context, argc, argv, lengths) == REDIS_OK }
    }

    /// Sends what `append` buffered without waiting for replies: a cluster client writes to every
    /// owner first and then reads, so the round trips overlap. False on an I/O error.
    public func flush() -> Bool {
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(self.context, &done) == REDIS_OK else { return false }
        }
        return true
    }

    /// The next `count` replies; nil on an I/O error or timeout (the connection is then unusable).
    public func readReplies(_ count: Int) -> [RedisReply]? {
        var replies: [RedisReply] = []
        replies.reserveCapacity(count)
        for _ in 0..<count {
            var raw: UnsafeMutableRawPointer? = nil
            guard redisGetReply(self.context, &raw) == REDIS_OK, let raw else { return nil }
            defer { freeReplyObject(raw) }
            replies.append(Self.copy(raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    private func withArgv<R>(_ args: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        // hiredis reads argv[i] for argvlen[i] bytes, so binary values (vectors) pass unchanged.
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        let storage = args.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { if $0.count > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        for (p, bytes) in zip(storage, args) {
            pointers.append(UnsafePointer(p.assumingMemoryBound(to: CChar.self)))
            lengths.append(bytes.count)
        }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { body(Int32(args.count), argv.baseAddress!, $0.baseAddress!) }
        }
    }

    private static func copy(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .string(Array(UnsafeRawBufferPointer(start: reply.str, count: reply.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(reply.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<reply.elements).map { copy(reply.element[$0]!) })
        default:
            return .null
        }
    }

    private static func timeval(_ seconds: Double) -> Glibc.timeval {
        Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
    }
}
