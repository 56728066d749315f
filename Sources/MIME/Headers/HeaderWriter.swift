/// Writes header fields into a byte buffer and folds them (RFC 5322 §2.2.3): a CRLF is inserted before a space
/// or tab so that lines stay within `limit` characters where the content allows, and every unit of text that
/// must not be broken (an address, an encoded word, a word of a structured value) stays on one line.
///
/// Unfolding (removing each CRLF that precedes white space) gives back exactly what was written.
struct HeaderWriter {
    /// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters.
    static let softLimit = 78
    /// RFC 2047 §2: a line holding an encoded word is at most 76 characters.
    static let encodedWordLimit = 76
    /// RFC 5322 §2.1.1: lines MUST be at most 998 characters.
    static let hardLimit = 998

    var bytes: [UInt8]
    /// Octets on the current line so far.
    var column = 0
    /// The folding limit of the field being written.
    var limit = HeaderWriter.softLimit

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Starts a field: writes `Name:`.
    mutating func begin(_ name: String) {
        bytes.append(name)
        bytes.append(0x3A)
        column = name.utf8.count + 1
        limit = Self.softLimit
    }

    /// Ends the field with CRLF.
    mutating func end() {
        bytes.appendCRLF()
        column = 0
    }

    /// Writes a complete field whose value is short ASCII that needs no folding.
    mutating func field(_ name: String, _ value: String) {
        begin(name)
        bytes.append(ASCII.space)
        bytes.append(value)
        end()
    }

    /// Folds here: CRLF and a space, which also separates what comes next from what came before.
    mutating func fold() {
        bytes.appendCRLF()
        bytes.append(ASCII.space)
        column = 1
    }

    /// Writes a space and then `word`, which is never broken; folds first when the word would not fit.
    mutating func appendWord<C: Collection>(_ word: C) where C.Element == UInt8 {
        separate(before: word.count)
        bytes.append(contentsOf: word)
        column += word.count
    }

    /// Writes a separating space, or folds when `length` more octets would not fit on the current line.
    mutating func separate(before length: Int) {
        if column + 1 + length > limit {
            fold()
        } else {
            bytes.append(ASCII.space)
            column += 1
        }
    }

    /// Writes a space and then `text`, folding only before its white space (so an unstructured value, a phrase or
    /// a quoted string keeps its meaning). A run of white space at the very end is never moved to a line of its
    /// own: RFC 5322 §3.2.2 forbids a line made only of white space.
    mutating func appendFoldable(_ text: [UInt8]) {
        var i = 0
        var first = true
        let n = text.count
        while i < n || first {
            let wsStart = i
            while i < n, ASCII.isWSP(text[i]) { i += 1 }
            let wordStart = i
            while i < n, !ASCII.isWSP(text[i]) { i += 1 }
            let ws = text[wsStart..<wordStart]
            let word = text[wordStart..<i]
            if first {
                // The separating space after the colon (or the previous unit) comes first.
                separate(before: ws.count + word.count)
                first = false
            } else if !word.isEmpty && column + ws.count + word.count > limit {
                bytes.appendCRLF()
                column = 0
            }
            bytes.append(contentsOf: ws)
            bytes.append(contentsOf: word)
            column += ws.count + word.count
        }
    }

    /// Whether `text` written by `appendFoldable` after `prefix` octets keeps every line within the hard limit:
    /// a line holds the prefix and the first segment, or segments that each start with white space, and only
    /// more than one of them while they fit within the soft limit.
    static func foldsWithinHardLimit(_ text: [UInt8], prefix: Int) -> Bool {
        var i = 0
        var previous = prefix + 1
        let n = text.count
        while i < n {
            let start = i
            while i < n, ASCII.isWSP(text[i]) { i += 1 }
            let wordStart = i
            while i < n, !ASCII.isWSP(text[i]) { i += 1 }
            if wordStart == i || start == 0 {
                // Trailing white space, or the first word: on the same line as what precedes it.
                previous += i - start
            } else {
                previous = i - start
            }
            if previous > hardLimit { return false }
        }
        return true
    }
}
