// The bounds the request parser enforces, and whether crossing each one is survivable.
//
// Every length that comes off the wire is checked before anything is buffered or allocated for it
// (style §6.4; redis `proto-max-bulk-len`, `PROTO_INLINE_MAX_SIZE`). Two tiers:
// - soft limits (`maxBulkLength`, `maxArguments`): the request is read to its end without keeping the
//   oversized parts, then reported as `RESPFrame.rejected` (`-TOOBIG ...`); the connection goes on.
// - hard limits (`hardMaxBulkLength`, `hardMaxArguments`, `maxInlineLength`): `RESPProtocolError`, and
//   the server closes the connection, as Redis does for the same input.
// Skipping streams through the oversized bytes, so a request between the two tiers costs no memory.
// The most a single accepted request can buffer is about `maxArguments × maxBulkLength`.

/// Bounds for `RESPParser` / `RESPCommandDecoder`. All lengths are in bytes.
public struct RESPLimits: Hashable, Sendable {
    /// Longest bulk argument that is accepted. Longer ones, up to `hardMaxBulkLength`, reject the
    /// request with `-TOOBIG` and keep the connection. The node passes its text limit here.
    public var maxBulkLength: Int
    /// Longest bulk length that is skipped rather than refused: above it the stream is treated as
    /// garbage (`Protocol error: invalid bulk length`, connection closed). Redis's default
    /// `proto-max-bulk-len` is the same 512 MiB.
    public var hardMaxBulkLength: Int
    /// Most arguments (command name included) a request may have. Requests with more, up to
    /// `hardMaxArguments`, are skipped and rejected with `-TOOBIG`.
    public var maxArguments: Int
    /// Argument count above which `*<n>` is garbage (`Protocol error: invalid multibulk length`).
    /// 1 Mi, the bound Redis used before it moved to `INT_MAX`; both redis test values exceed it.
    public var hardMaxArguments: Int
    /// Longest inline request line, CR/LF excluded (Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB). Longer
    /// is `Protocol error: too big inline request` and the connection is closed.
    public var maxInlineLength: Int

    /// Makes limits; every value must be positive, and each hard limit at least its soft one.
    public init(
        maxBulkLength: Int = 64 * 1024,
        hardMaxBulkLength: Int = 512 * 1024 * 1024,
        maxArguments: Int = 4096,
        hardMaxArguments: Int = 1024 * 1024,
        maxInlineLength: Int = 64 * 1024
    ) {
        precondition(maxBulkLength >= 0 && hardMaxBulkLength >= maxBulkLength, "bulk limits out of order")
        precondition(maxArguments >= 1 && hardMaxArguments >= maxArguments, "argument limits out of order")
        precondition(maxInlineLength >= 1, "inline limit must be positive")
        self.maxBulkLength = maxBulkLength
        self.hardMaxBulkLength = hardMaxBulkLength
        self.maxArguments = maxArguments
        self.hardMaxArguments = hardMaxArguments
        self.maxInlineLength = maxInlineLength
    }

    /// 64 KiB arguments, 4096 arguments, 64 KiB inline lines; hard caps 512 MiB and 1 Mi arguments.
    public static let `default` = RESPLimits()
}
