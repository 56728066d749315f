import MailCore

/// The message data as it goes on the wire after DATA (RFC 5321 §4.5.2 and §4.1.1.4).
enum DotStuffing {
    /// `data` with every line end made CRLF, a "." added before each line that starts with ".",
    /// a final CRLF when the data does not end with one, and the terminating ".\r\n".
    ///
    /// A bare CR or LF becomes CRLF (RFC 5321 §2.3.8 forbids them): relays that take a bare LF as a
    /// line end would otherwise see "\n.\r\n" as the end of the data (SMTP smuggling).
    static func encode(_ data: [UInt8]) -> [UInt8] {
        // Each input byte becomes at most two ("\n" → "\r\n", a leading "." → ".."), plus the final
        // CRLF and ".\r\n". Runs of ordinary bytes are found eight bytes at a time and copied whole; this runs
        // once per delivered message.
        let capacity = data.count * 2 + 5
        return data.withUnsafeBufferPointer { input in
            [UInt8](unsafeUninitializedCapacity: capacity) { out, count in
                var o = 0
                var i = 0
                var atLineStart = true
                let n = input.count
                while i < n {
                    if atLineStart, input[i] == 0x2E {
                        out[o] = 0x2E
                        o += 1
                    }
                    // Copy up to the next CR or LF.
                    var end = i
                    while end + 8 <= n {
                        let word = ByteWord.load(input.baseAddress!, end)
                        if ByteWord.has(word, 0x0D) || ByteWord.has(word, 0x0A) { break }
                        end += 8
                    }
                    while end < n, input[end] != 0x0D, input[end] != 0x0A { end += 1 }
                    if end > i {
                        UnsafeMutableRawPointer(out.baseAddress! + o)
                            .copyMemory(from: input.baseAddress! + i, byteCount: end - i)
                        o += end - i
                        atLineStart = false
                    }
                    i = end
                    guard i < n else { break }
                    // A line end: CRLF, bare CR or bare LF, each written as CRLF.
                    if input[i] == 0x0D, i + 1 < n, input[i + 1] == 0x0A { i += 1 }
                    i += 1
                    out[o] = 0x0D
                    out[o + 1] = 0x0A
                    o += 2
                    atLineStart = true
                }
                if !atLineStart {
                    out[o] = 0x0D
                    out[o + 1] = 0x0A
                    o += 2
                }
                out[o] = 0x2E
                out[o + 1] = 0x0D
                out[o + 2] = 0x0A
                count = o + 3
            }
        }
    }
}
