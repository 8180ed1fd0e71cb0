// Recognises the one request shape that is most of a node's traffic, `*2\r\n$<n>\r\n<NAME>\r\n$<len>\r\n
// <argument>\r\n`, straight from the receive buffer, with no frame, no argument array and no slices.
//
// Why: at a million cache hits a second, RESPParser's general machinery (an array of ByteBuffer
// slices per request, their retains and releases, the frame enum) cost more than the hit itself
// (Docs/benchmarks.md, "hit path"). Anything this does not recognise — another shape or name, a
// frame cut across reads, an argument over the caller's limit, a malformed header — it leaves alone,
// and the caller hands the same bytes to RESPParser, which owns every error and limit. So this can
// only ever accept a subset of what RESPParser accepts, with the same meaning.

public enum RESPFastFrame {
    /// A complete two-element request at the start of `bytes` whose first element equals `upperName`
    /// (ASCII letters, compared case-insensitively, as Redis compares command names).
    ///
    /// - Returns: the second element's byte range within `bytes` and the frame's total length; nil
    ///   for anything else, including an argument longer than `maxArgument`.
    @inline(__always)
    public static func twoArguments(_ bytes: UnsafeRawBufferPointer, upperName: StaticString, maxArgument: Int) -> (argument: Range<Int>, length: Int)? {
        let nameLength = upperName.utf8CodeUnitCount
        // "*2\r\n$" + the name's length (one or two digits) + "\r\n" + name + "\r\n$".
        guard nameLength > 0 && nameLength < 100 else { return nil }
        let digits = nameLength < 10 ? 1 : 2
        let nameStart = 5 + digits + 2
        let afterName = nameStart + nameLength
        let headerEnd = afterName + 3
        guard bytes.count > headerEnd,
            bytes[0] == UInt8(ascii: "*"), bytes[1] == UInt8(ascii: "2"), bytes[2] == RESPScan.cr, bytes[3] == RESPScan.lf,
            bytes[4] == UInt8(ascii: "$"), bytes[5 + digits] == RESPScan.cr, bytes[6 + digits] == RESPScan.lf
        else { return nil }
        if digits == 1 {
            guard bytes[5] == UInt8(ascii: "0") + UInt8(nameLength) else { return nil }
        } else {
            guard bytes[5] == UInt8(ascii: "0") + UInt8(nameLength / 10), bytes[6] == UInt8(ascii: "0") + UInt8(nameLength % 10) else { return nil }
        }
        let name = upperName.utf8Start
        for i in 0..<nameLength {
            let expected = name[i]
            let isLetter = (expected | 0x20) >= UInt8(ascii: "a") && (expected | 0x20) <= UInt8(ascii: "z")
            // `| 0x20` folds ASCII case, and only letters are compared that way.
            guard isLetter ? bytes[nameStart + i] | 0x20 == expected | 0x20 : bytes[nameStart + i] == expected else { return nil }
        }
        guard bytes[afterName] == RESPScan.cr, bytes[afterName + 1] == RESPScan.lf, bytes[afterName + 2] == UInt8(ascii: "$")
        else { return nil }
        guard case .value(let length, let start) = RESPScan.integerLine(bytes, from: headerEnd),
            length >= 0, length <= maxArgument
        else { return nil }
        let end = start + length
        guard end + 2 <= bytes.count, bytes[end] == RESPScan.cr, bytes[end + 1] == RESPScan.lf else { return nil }
        return (start..<end, end + 2)
    }
}
