// Redis Cluster's key → slot function (cluster spec, "Keys distribution model"): CRC16-CCITT
// (XMODEM: polynomial 0x1021, initial 0, no reflection) of the key modulo 16384, where a key holding
// a non-empty `{...}` hashes only what is inside the first such braces. The node must compute exactly
// what Redis computes, or every command it routes comes back MOVED.

/// The slot of a key in a Redis Cluster.
public enum KeySlot {
    /// Slots in a cluster.
    public static let count = 16384

    /// CRC16 as Redis Cluster defines it; CRC16("123456789") = 0x31C3.
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ Self.table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)] }
        return crc
    }

    /// The slot of `key`, honouring hash tags: `{user1000}.following` and `{user1000}.followers`
    /// share a slot; `{}x` and `x{}` hash whole, as Redis does.
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            return Int(Self.crc16(key[(open + 1)..<close])) & (Self.count - 1)
        }
        return Int(Self.crc16(key)) & (Self.count - 1)
    }

    /// The slot of `key` given as bytes.
    public static func of(_ key: [UInt8]) -> Int { key.withUnsafeBytes { Self.of($0) } }

    /// The slot of `key` given as text.
    public static func of(_ key: String) -> Int { Self.of(Array(key.utf8)) }

    private static let table: [UInt16] = (0..<256).map { byte -> UInt16 in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
