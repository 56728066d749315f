/// The message data as it goes on the wire after DATA (RFC 5321 §4.5.2 and §4.1.1.4).
enum DotStuffing {
    /// `data` with every line end made CRLF, a "." added before each line that starts with ".",
    /// a final CRLF when the data does not end with one, and the terminating ".\r\n".
    ///
    /// A bare CR or LF becomes CRLF (RFC 5321 §2.3.8 forbids them): relays that take a bare LF as a
    /// line end would otherwise see "\n.\r\n" as the end of the data (SMTP smuggling).
    static func encode(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + data.count / 64 + 5)
        var atLineStart = true
        var index = 0
        while index < data.count {
            let byte = data[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index < data.count, data[index] == 0x0A { index += 1 }
                out.append(0x0D)
                out.append(0x0A)
                atLineStart = true
                continue
            }
            if atLineStart, byte == 0x2E { out.append(0x2E) }
            out.append(byte)
            atLineStart = false
        }
        if !atLineStart {
            out.append(0x0D)
            out.append(0x0A)
        }
        out.append(contentsOf: [0x2E, 0x0D, 0x0A])
        return out
    }
}
