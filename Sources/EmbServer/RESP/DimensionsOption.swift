// RESP's form of OpenAI's `dimensions` (OutputWidth):
//   EMBED text DIMENSIONS n
//   EMBED text MODEL name DIMENSIONS n
//   MEMBED DIMENSIONS n text [text ...]
// MEMBED's texts are variadic, so the option comes first, as ZADD's flags come before its members. A
// MEMBED whose first text is literally "DIMENSIONS" followed by a decimal number is read as the
// option; such a batch is embedded as asked by putting any other text first (Docs/protocol.md).
import NIOCore

/// A text command that asks for a cut width, with the option taken out.
public struct DimensionsOption: Equatable, Sendable {
    /// The texts, as sent (before any input-type prefix).
    public var texts: [ByteBuffer]
    /// EMBED's `MODEL name`, when given.
    public var model: String?
    /// The width asked for.
    public var dims: Int
    /// MEMBED (an array reply) rather than EMBED (one bulk string).
    public var isBatch: Bool

    public init(texts: [ByteBuffer], model: String?, dims: Int, isBatch: Bool) {
        (self.texts, self.model, self.dims, self.isBatch) = (texts, model, dims, isBatch)
    }

    /// The option in `args` (the command name first), nil when the command has none. A DIMENSIONS whose
    /// value is not a positive decimal integer is still the option: `dims` is 0, which no model serves.
    public static func parse(_ args: [ByteBuffer]) -> DimensionsOption? {
        guard let first = args.first, (5...6).contains(first.readableBytes) else { return nil }  // EMBED, MEMBED
        let name = String(buffer: first).uppercased()
        switch (name, args.count) {
        case ("EMBED", 4) where Self.isKeyword(args[2], "DIMENSIONS"):
            return DimensionsOption(texts: [args[1]], model: nil, dims: Self.width(args[3]), isBatch: false)
        case ("EMBED", 6) where Self.isKeyword(args[2], "MODEL") && Self.isKeyword(args[4], "DIMENSIONS"):
            return DimensionsOption(texts: [args[1]], model: String(buffer: args[3]), dims: Self.width(args[5]), isBatch: false)
        case ("MEMBED", 4...) where Self.isKeyword(args[1], "DIMENSIONS") && Self.width(args[2]) > 0:
            return DimensionsOption(texts: Array(args.dropFirst(3)), model: nil, dims: Self.width(args[2]), isBatch: true)
        default:
            return nil
        }
    }

    private static func isKeyword(_ b: ByteBuffer, _ word: String) -> Bool {
        b.readableBytes == word.utf8.count && String(buffer: b).uppercased() == word
    }

    /// A positive decimal integer of at most 6 digits, else 0.
    private static func width(_ b: ByteBuffer) -> Int {
        guard (1...6).contains(b.readableBytes), b.readableBytesView.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return 0 }
        return Int(String(buffer: b)) ?? 0
    }
}
