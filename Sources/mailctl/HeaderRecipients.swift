import MIME
import MailCore

/// What sendmail reads from a message's header section, and adds to it: the recipients of To, Cc and
/// Bcc (for `sendmail -t`), where the section ends, and the From field made from -f and -F.
enum HeaderRecipients {
    struct Problem: Error, CustomStringConvertible { let description: String }

    static func extract(_ message: [UInt8]) throws(Problem) -> [String] {
        var recipients: [String] = []
        for (name, value) in headerFields(message) {
            let lower = name.lowercased()
            guard lower == "to" || lower == "cc" || lower == "bcc" else { continue }
            do {
                recipients += try Mailbox.parseList(stripGroups(removingComments(value))).map(\.address.string)
            } catch {
                throw Problem(description: "\(name) header: \(error)")
            }
        }
        return recipients
    }

    /// Where a blank line must go for the header section to end before the first line that is not a header
    /// field (`Name: value`, or a continuation of one), when that line is not blank; nil when the message
    /// has its blank line (or is headers only). A leading mbox "From " line is passed over.
    static func missingSeparator(_ message: [UInt8]) -> Int? {
        var start = message.starts(with: Array("From ".utf8)) ? (message.firstIndex(of: 0x0A).map { $0 + 1 } ?? message.count) : 0
        var inField = false
        while start < message.count {
            let end = message[start...].firstIndex(of: 0x0A) ?? message.count
            var line = message[start..<end]
            if line.last == 0x0D { line = line.dropLast() }
            if line.isEmpty { return nil }
            if let first = line.first, first == 0x20 || first == 0x09 {
                if !inField { return start }
            } else if isFieldStart(line) {
                inField = true
            } else {
                return start
            }
            start = end + 1
        }
        return nil
    }

    /// `Name:` with a field name of printable ASCII (no space, no colon), obsolete white space allowed
    /// before the colon (RFC 5322 §3.6.8, §4.5.8).
    private static func isFieldStart(_ line: ArraySlice<UInt8>) -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return false }
        var name = line[line.startIndex..<colon]
        while let last = name.last, last == 0x20 || last == 0x09 { name = name.dropLast() }
        return !name.isEmpty && name.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// The unfolded header fields, up to the first empty line. Lines end in LF or CRLF (split as bytes: a
    /// Swift String holds CR LF as one Character, which a split on "\n" would never find).
    static func headerFields(_ message: [UInt8]) -> [(String, String)] {
        var fields: [(String, String)] = []
        for rawLine in message.split(separator: 0x0A, omittingEmptySubsequences: false) {
            var bytes = rawLine
            if bytes.last == 0x0D { bytes = bytes.dropLast() }
            let line = Substring(String(decoding: bytes, as: UTF8.self))
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t" {
                if !fields.isEmpty { fields[fields.count - 1].1 += " " + line.trimmingSpaces }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields.append((String(line[..<colon]).trimmingSpaces, String(line[line.index(after: colon)...]).trimmingSpaces))
        }
        return fields
    }

    /// `From: Full Name <address>` and its line end, for a message that has no From header. The name is
    /// sent as a quoted string, or as RFC 2047 encoded words of at most 75 characters, one per line (folded),
    /// when it is not ASCII.
    static func fromHeader(address: String, fullName: String?) -> [UInt8] {
        let bare = (try? Mailbox.parse(address))?.address.string ?? address
        guard let name = fullName?.trimmingSpaces, !name.isEmpty else { return Array("From: \(bare)\n".utf8) }
        let phrase: String
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            var quoted = "\""
            for c in name {
                if c == "\"" || c == "\\" { quoted.append("\\") }
                quoted.append(c)
            }
            phrase = quoted + "\""
        } else {
            // Words of at most 70 characters, one per line, so that "From: " and the first fit in 78.
            phrase = EncodedWords.encode(name, maxWordLength: 70).split(separator: " ").joined(separator: "\n ")
        }
        let lastLine = phrase.split(separator: "\n").last.map { $0.utf8.count } ?? 0
        let fold = (phrase.contains("\n") ? 0 : 6) + lastLine + bare.utf8.count + 3 > 78 ? "\n " : " "
        return Array("From: \(phrase)\(fold)<\(bare)>\n".utf8)
    }

    /// `undisclosed-recipients:;` and `team: a@b, c@d;` → the addresses inside the group.
    static func stripGroups(_ value: String) -> String {
        var out = ""
        var inQuotes = false
        for c in value {
            if c == "\"" { inQuotes.toggle() }
            if !inQuotes && c == ";" { out.append(","); continue }
            out.append(c)
        }
        // Remove "group-name:" prefixes outside quotes and angle brackets.
        var result = ""
        var token = ""
        inQuotes = false
        var angle = 0
        for c in out {
            if c == "\"" { inQuotes.toggle() }
            if !inQuotes && c == "<" { angle += 1 }
            if !inQuotes && c == ">" { angle -= 1 }
            if !inQuotes && angle == 0 && c == ":" {
                token = ""
                continue
            }
            token.append(c)
            if !inQuotes && angle == 0 && c == "," {
                result += token
                token = ""
            }
        }
        return result + token
    }
}

extension Substring {
    var trimmingSpaces: String { String(self).trimmingSpaces }
}
