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
        case .string(let s): return s.isEmpty ? "-" : s
        case .array(let items): return items.map(\.cell).joined(separator: ", ")
        default: return jsonText
        }
    }
}
