/// Tests on eight bytes at once, for the scans that read every byte of a message (JSON strings, text bodies):
/// a byte loop costs 7-12 instructions a byte, these about one. The classic "has a zero byte" trick: a test may
/// report a byte that is not there only above one that is, so a word that passes holds none, and a word that
/// fails is looked at byte by byte.
public enum ByteWord {
    public static let ones: UInt64 = 0x0101_0101_0101_0101
    public static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `offset` (no alignment needed).
    @inlinable @inline(__always)
    public static func load(_ base: UnsafePointer<UInt8>, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inlinable @inline(__always)
    public static func hasZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }

    /// Whether any byte equals `byte`.
    @inlinable @inline(__always)
    public static func has(_ x: UInt64, _ byte: UInt8) -> Bool { hasZero(x ^ (ones &* UInt64(byte))) }

    /// Whether any byte is below `limit` (at most 0x80).
    @inlinable @inline(__always)
    public static func hasLess(_ x: UInt64, than limit: UInt8) -> Bool {
        (x &- ones &* UInt64(limit)) & ~x & highs != 0
    }

    /// Whether any byte has its high bit set (is not ASCII).
    @inlinable @inline(__always)
    public static func hasHigh(_ x: UInt64) -> Bool { x & highs != 0 }

    /// Whether every byte is below 0x80.
    @inlinable
    public static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var i = 0
        var high: UInt64 = 0
        while i + 8 <= bytes.count {
            high |= load(base, i)
            i += 8
        }
        while i < bytes.count {
            high |= UInt64(base[i])
            i += 1
        }
        return high & highs == 0
    }
}
