import MailCore

/// Aligned columns for people: each column as wide as its widest cell (by characters).
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                if i == cells.count - 1 {
                    out += cell
                } else {
                    out += cell + String(repeating: " ", count: widths[i] - cell.count + 2)
                }
            }
            return out
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

extension JSONValue {
    /// A cell for a table: strings as they are, null as "-", numbers and the rest as JSON.
    var cell: String {
        switch self {
        case .null: return "-"
        case .string(let s): return s.isEmpty ? "-" : Self.printable(s)
        case .array(let items): return items.map(\.cell).joined(separator: ", ")
        default: return jsonText
        }
    }

    /// `text` with every control character (C0, DEL, C1) shown as `\u{…}`: a subject or a relay's reply
    /// comes from other people, and an ESC sequence, a CR or a backspace printed as it is could retitle or
    /// recolour the operator's terminal, or forge table rows.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
