import MailCore

/// RFC 2047 encoded words (`=?utf-8?q?Jo=C3=A3o?=`): how non-ASCII text travels in a header, and how it is read
/// back (to show a ready-made message's Subject in listings).
///
/// maild writes UTF-8 only, choosing per piece of text whichever of Q and B is shorter (Q on a tie, because it
/// stays readable in the raw message). Its Q form uses only the characters RFC 2047 §5 (3) allows in a phrase,
/// so the same words are valid in Subject, in X- headers and in display names.
public enum EncodedWords {
    /// The encoding of an encoded word (RFC 2047 §4).
    public enum Encoding: Sendable {
        /// "B": base64 (§4.1).
        case b
        /// "Q": quoted-printable with "_" for space (§4.2).
        case q
        /// Whichever is shorter for the text at hand.
        case shortest
    }

    /// RFC 2047 §2: an encoded word is at most 75 characters.
    public static let maximumWordLength = 75
    /// `=?utf-8?q?` and `?=`.
    static let overhead = 12

    /// Encodes `text` as encoded words of at most `maxWordLength` characters, separated by single spaces (which a
    /// decoder drops between adjacent encoded words). A word never splits a UTF-8 character (RFC 2047 §5).
    public static func encode(
        _ text: String, encoding: Encoding = .shortest, maxWordLength: Int = maximumWordLength
    ) -> String {
        var out: [UInt8] = []
        let utf8 = Array(text.utf8)
        let useQ = chooseQ(utf8, encoding)
        var i = 0
        while i < utf8.count {
            if !out.isEmpty { out.append(ASCII.space) }
            i = appendWord(utf8, from: i, room: max(maxWordLength, overhead + 12), q: useQ, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether Q is the encoding to use for `utf8`.
    static func chooseQ(_ utf8: [UInt8], _ encoding: Encoding) -> Bool {
        switch encoding {
        case .q: return true
        case .b: return false
        case .shortest:
            var qLength = 0
            for b in utf8 { qLength += isQLiteral(b) || b == ASCII.space ? 1 : 3 }
            return qLength <= (utf8.count + 2) / 3 * 4
        }
    }

    /// RFC 2047 §5 (3): the characters that may stand for themselves in a Q-encoded word anywhere, phrases
    /// included: letters, digits and `! * + - /`.
    @inline(__always) static func isQLiteral(_ b: UInt8) -> Bool {
        ASCII.isAlphanumeric(b) || b == 0x21 || b == 0x2A || b == 0x2B || b == 0x2D || b == 0x2F
    }

    @inline(__always) static func qLength(_ b: UInt8) -> Int { isQLiteral(b) || b == ASCII.space ? 1 : 3 }

    /// Appends one encoded word of at most `room` characters holding the whole UTF-8 characters of `utf8` from
    /// `start` on; returns where the next word starts. `room` must hold at least one character (overhead + 12).
    static func appendWord(_ utf8: [UInt8], from start: Int, room: Int, q: Bool, to out: inout [UInt8]) -> Int {
        out.append(contentsOf: q ? prefixQ : prefixB)
        var i = start
        if q {
            var used = overhead
            while i < utf8.count {
                let length = utf8SequenceLength(utf8[i])
                let end = min(i + length, utf8.count)
                var encoded = 0
                for b in utf8[i..<end] { encoded += qLength(b) }
                if used + encoded > room && i > start { break }
                for b in utf8[i..<end] {
                    if isQLiteral(b) {
                        out.append(b)
                    } else if b == ASCII.space {
                        out.append(ASCII.underscore)
                    } else {
                        out.appendEscaped(b, marker: ASCII.equals)
                    }
                }
                used += encoded
                i = end
            }
        } else {
            let maxBytes = (room - overhead) / 4 * 3
            while i < utf8.count {
                let end = min(i + utf8SequenceLength(utf8[i]), utf8.count)
                if end - start > maxBytes && i > start { break }
                i = end
            }
            out.append(contentsOf: Base64.encode(Array(utf8[start..<i])))
        }
        out.append(ASCII.question)
        out.append(ASCII.equals)
        return i
    }

    static let prefixQ: [UInt8] = Array("=?utf-8?q?".utf8)
    static let prefixB: [UInt8] = Array("=?utf-8?b?".utf8)

    /// Whether `utf8` must be written as encoded words rather than as itself: it holds non-ASCII, a control
    /// character, or something a reader would take for an encoded word ("=?"), which would not survive decoding.
    static func needsEncoding<C: Collection>(_ utf8: C) -> Bool where C.Element == UInt8 {
        var previous: UInt8 = 0
        for b in utf8 {
            if b >= 0x7F || (b < 0x20 && b != ASCII.tab) { return true }
            if previous == ASCII.equals && b == ASCII.question { return true }
            previous = b
        }
        return false
    }
}

extension HeaderWriter {
    /// Writes `utf8` as a sequence of encoded words, each preceded by a space or a fold, filling lines up to the
    /// RFC 2047 limit of 76 characters.
    mutating func appendEncodedWords(_ utf8: [UInt8]) {
        limit = min(limit, Self.encodedWordLimit)
        let q = EncodedWords.chooseQ(utf8, .shortest)
        var i = 0
        while i < utf8.count {
            // The smallest word this line must take: the overhead and the next character, encoded.
            let end = min(i + utf8SequenceLength(utf8[i]), utf8.count)
            let next = q ? utf8[i..<end].reduce(0) { $0 + EncodedWords.qLength($1) } : 8
            separate(before: EncodedWords.overhead + next)
            let room = min(EncodedWords.maximumWordLength, limit - column)
            let before = bytes.count
            i = EncodedWords.appendWord(utf8, from: i, room: room, q: q, to: &bytes)
            column += bytes.count - before
        }
    }
}
