/// RFC 4648 base64, standard alphabet.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Encodes `bytes`; with `lineLength`, inserts CRLF after every `lineLength` output characters
    /// (76 for MIME, RFC 2045 §6.8) but not after the last line.
    public static func encode(_ bytes: [UInt8], lineLength: Int? = nil) -> [UInt8] {
        var out: [UInt8] = []
        let groups = (bytes.count + 2) / 3
        out.reserveCapacity(groups * 4 + (lineLength.map { groups * 4 / $0 * 2 + 2 } ?? 0))
        var column = 0
        var i = 0
        func put(_ c: UInt8) {
            if let lineLength, column == lineLength {
                out.append(0x0D)
                out.append(0x0A)
                column = 0
            }
            out.append(c)
            column += 1
        }
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            put(alphabet[Int(n >> 18 & 63)])
            put(alphabet[Int(n >> 12 & 63)])
            put(alphabet[Int(n >> 6 & 63)])
            put(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            put(alphabet[Int(n >> 18 & 63)])
            put(alphabet[Int(n >> 12 & 63)])
            put(UInt8(ascii: "="))
            put(UInt8(ascii: "="))
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            put(alphabet[Int(n >> 18 & 63)])
            put(alphabet[Int(n >> 12 & 63)])
            put(alphabet[Int(n >> 6 & 63)])
            put(UInt8(ascii: "="))
        }
        return out
    }

    public static func encodeToString(_ bytes: [UInt8]) -> String {
        String(decoding: encode(bytes), as: UTF8.self)
    }

    /// Decodes base64 text. Line breaks (CR, LF) are ignored; any other character outside the alphabet,
    /// or wrong padding, makes it invalid (nil).
    public static func decode(_ text: String) -> [UInt8]? {
        var utf8 = text.utf8
        if let result = utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return result }
        utf8 = text.utf8
        return decode(bytes: Array(utf8))
    }

    public static func decode<C: Collection>(bytes: C) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var quad: UInt32 = 0
        var count = 0
        var padding = 0
        for c in bytes {
            if c == 0x0D || c == 0x0A { continue }
            if c == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            if padding > 0 { return nil }  // data after padding
            let v = decodeTable[Int(c)]
            if v == 0xFF { return nil }
            quad = quad << 6 | UInt32(v)
            count += 1
            if count == 4 {
                out.append(UInt8(quad >> 16 & 0xFF))
                out.append(UInt8(quad >> 8 & 0xFF))
                out.append(UInt8(quad & 0xFF))
                quad = 0
                count = 0
            }
        }
        switch (count, padding) {
        case (0, 0): break
        case (2, 0), (2, 2):
            out.append(UInt8(quad >> 4 & 0xFF))
        case (3, 0), (3, 1):
            out.append(UInt8(quad >> 10 & 0xFF))
            out.append(UInt8(quad >> 2 & 0xFF))
        default: return nil
        }
        return out
    }
}
