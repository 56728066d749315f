import MailCore

extension HeaderWriter {
    /// Writes an unstructured field (Subject, X-…): as itself when it is printable ASCII that folds within
    /// 998-octet lines, else as RFC 2047 encoded words (which also carry any control character, so nothing the
    /// caller passes can break the line, and leading or trailing white space survives).
    ///
    /// A `structured` field (In-Reply-To, List-Unsubscribe, …) may not hold encoded words (RFC 2047 §5), so its
    /// value is written as it is even when it contains "=?" (a URL may); MessageValidator has made sure it is
    /// printable ASCII that folds. Should anything else reach here, encoded words still keep the line intact.
    mutating func textField(_ name: String, _ value: String, structured: Bool = false) {
        begin(name)
        let utf8 = Array(value.utf8)
        let foldable = Self.foldsWithinHardLimit(utf8, prefix: name.utf8.count + 1)
        let plain = structured && foldable && utf8.allSatisfy { ASCII.isVisible($0) || ASCII.isWSP($0) }
        if !plain && (EncodedWords.needsEncoding(utf8) || !foldable) {
            appendEncodedWords(utf8)
        } else {
            appendFoldable(utf8)
        }
        end()
    }

    /// Writes an address-list field (RFC 5322 §3.6.2–3): `Name <addr>, addr`, folding between mailboxes and
    /// inside long display names.
    mutating func addressField(_ name: String, _ mailboxes: [Mailbox]) {
        begin(name)
        for (i, mailbox) in mailboxes.enumerated() {
            var token: [UInt8] = []
            let address = mailbox.address.string
            token.reserveCapacity(address.utf8.count + 3)
            if let displayName = mailbox.displayName {
                appendDisplayName(Array(displayName.utf8))
                token.append(0x3C)
                token.append(address, keeping: { !ASCII.isLineBreak($0) })
                token.append(0x3E)
            } else {
                token.append(address, keeping: { !ASCII.isLineBreak($0) })
            }
            if i < mailboxes.count - 1 { token.append(0x2C) }
            appendWord(token)
        }
        end()
    }

    /// A display name (RFC 5322 §3.2.5 phrase): atoms as they are, other ASCII as a quoted string, and non-ASCII
    /// as encoded words (RFC 2047 §5 (3)).
    mutating func appendDisplayName(_ utf8: [UInt8]) {
        if EncodedWords.needsEncoding(utf8) || !Self.foldsWithinHardLimit(utf8, prefix: column + 2) {
            appendEncodedWords(utf8)
        } else if Self.isAtomPhrase(utf8) {
            appendFoldable(utf8)
        } else {
            var quoted: [UInt8] = [ASCII.quote]
            quoted.reserveCapacity(utf8.count + 4)
            for b in utf8 {
                if b == ASCII.quote || b == ASCII.backslash { quoted.append(ASCII.backslash) }
                quoted.append(b)
            }
            quoted.append(ASCII.quote)
            appendFoldable(quoted)
        }
    }

    /// Atoms (RFC 5322 §3.2.3 atext) separated by single spaces: a phrase that needs no quotes.
    static func isAtomPhrase(_ utf8: [UInt8]) -> Bool {
        guard let first = utf8.first, let last = utf8.last, first != ASCII.space, last != ASCII.space else {
            return false
        }
        var previous: UInt8 = 0
        for b in utf8 {
            if b == ASCII.space {
                if previous == ASCII.space { return false }
            } else if !(ASCII.isAlphanumeric(b) || atextSpecials.contains(b)) {
                return false
            }
            previous = b
        }
        return true
    }

    private static let atextSpecials = Set("!#$%&'*+-/=?^_`{|}~".utf8)
}
