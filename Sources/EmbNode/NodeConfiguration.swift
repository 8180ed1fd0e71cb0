// What a node is told at start (from flags or a cluster file).

/// A node's settings.
public struct NodeConfiguration: Sendable {
    /// L1 budget in bytes (vectors plus per-entry overhead).
    public var l1MaxBytes = 256 << 20
    /// Time to live of an entry, in L1 and L2.
    public var ttl: Double = 24 * 3600
    /// XFetch β (0 disables early refresh).
    public var earlyExpiryBeta = 1.0
    /// Largest text accepted, in UTF-8 bytes.
    public var maxTextBytes = 64 << 10
    /// Most texts in one MEMBED or HTTP request.
    public var maxBatchTexts = 2048
    /// Encoder batching.
    public var batcher = EncoderBatcher.Configuration()
    /// Budget of the text → key alias table (lets a repeated text skip tokenization).
    public var aliasMaxBytes = 32 << 20
    /// Budget of the hot cache (vectors of keys other nodes own).
    public var hotCacheMaxBytes = 16 << 20
    /// How long a hot-cache entry lives: short, so an invalidation on the owner is seen soon.
    public var hotCacheTTL: Double = 30

    public init() {}
}
