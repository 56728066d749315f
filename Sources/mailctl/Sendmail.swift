#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// The sendmail(1) interface (SPEC §5): an RFC 5322 message on stdin, handed to maild as it is with the
/// `raw` form of `enqueue`. Flags follow Postfix's sendmail where they matter; exit codes are sysexits.h.
enum Sendmail {
    struct Arguments {
        var recipients: [String] = []
        var fromHeaders = false
        var sender: String?
        var dotEndsInput = true
        var company: String? = getenv("MAILD_COMPANY").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        var socket: String?
    }

    struct UsageError: Error { let message: String }

    static func parse(_ args: [String]) throws(UsageError) -> Arguments {
        var result = Arguments()
        var i = 0
        func value(_ flag: String, _ attached: Substring) throws(UsageError) -> String {
            if !attached.isEmpty { return String(attached) }
            i += 1
            guard i < args.count else { throw UsageError(message: "\(flag) needs a value") }
            return args[i]
        }
        var optionsDone = false
        while i < args.count {
            let arg = args[i]
            if optionsDone || !arg.hasPrefix("-") || arg == "-" {
                result.recipients.append(arg)
                i += 1
                continue
            }
            if arg == "--" {
                optionsDone = true
                i += 1
                continue
            }
            if arg.hasPrefix("--company") || arg.hasPrefix("--socket") {
                let name = arg.hasPrefix("--company") ? "--company" : "--socket"
                let v = try value(name, arg.dropFirst(name.count).drop(while: { $0 == "=" }))
                if name == "--company" { result.company = v } else { result.socket = v }
                i += 1
                continue
            }
            let flag = arg.dropFirst().first!
            let rest = arg.dropFirst(2)
            switch flag {
            case "t": result.fromHeaders = true
            case "i": result.dotEndsInput = false
            case "f", "r": result.sender = try value("-\(flag)", rest)
            case "F", "B", "N", "R", "V", "X", "L", "O", "C", "h", "q":
                // Full name, body type, DSN, return, envelope id, log file, …: accepted, no meaning here.
                if rest.isEmpty && "FBNRVXLOCh".contains(flag) { _ = try value("-\(flag)", rest) }
            case "o":
                if rest == "i" { result.dotEndsInput = false }  // -oi; other -o options are ignored
            case "v", "m", "n", "U", "G": break
            case "b":
                guard rest == "m" || rest.isEmpty else {
                    throw UsageError(message: "-b\(rest) is not supported; maild only queues mail (-bm)")
                }
            default:
                throw UsageError(message: "unknown option \(arg)")
            }
            i += 1
        }
        return result
    }

    static func run(_ args: [String]) -> Int32 {
        let arguments: Arguments
        do {
            arguments = try parse(args)
        } catch {
            printError("sendmail: \(error.message)")
            printError("usage: sendmail [-t] [-i] [-f sender] [--company ID] [recipient ...]")
            return ExitStatus.usage
        }
        let message = readStandardInput(stopAtDot: arguments.dotEndsInput)
        if message.isEmpty {
            printError("sendmail: no message on standard input")
            return ExitStatus.noInput
        }
        var recipients = arguments.recipients
        if arguments.fromHeaders {
            do {
                recipients += try HeaderRecipients.extract(message)
            } catch {
                printError("sendmail: \(error)")
                return ExitStatus.dataError
            }
        }
        if recipients.isEmpty {
            printError("sendmail: no recipients (give them as arguments, or use -t to read To, Cc and Bcc)")
            return ExitStatus.usage
        }
        var raw: [(String, JSONValue)] = []
        if let company = arguments.company { raw.append(("company", .string(company))) }
        raw.append(("raw", .string(Base64.encodeToString(message))))
        raw.append(("recipients", .array(recipients.map(JSONValue.string))))
        if let sender = arguments.sender { raw.append(("from", .string(sender))) }
        let request: JSONValue = .object([("op", "enqueue"), ("message", .object(raw))])

        let answer: JSONValue
        do {
            answer = try exchange(request, socket: arguments.socket)
        } catch {
            printError("sendmail: \(error)")
            switch error {
            case .unreachable: return ExitStatus.unavailable
            case .protocolFailure: return ExitStatus.tempFail
            }
        }
        guard answer["ok"]?.boolValue != true else { return 0 }
        let code = answer["error"]?["code"]?.stringValue ?? ""
        printError("sendmail: \(answer["error"]?["message"]?.stringValue ?? "refused") (\(code))")
        switch code {
        case "invalid_message", "too_large", "bad_request": return ExitStatus.dataError
        case "unavailable": return ExitStatus.tempFail
        case "forbidden": return 77  // EX_NOPERM
        default: return ExitStatus.software
        }
    }
}

/// The recipients named in a message's To, Cc and Bcc headers (for `sendmail -t`).
enum HeaderRecipients {
    struct Problem: Error, CustomStringConvertible { let description: String }

    static func extract(_ message: [UInt8]) throws(Problem) -> [String] {
        var recipients: [String] = []
        for (name, value) in headerFields(message) {
            let lower = name.lowercased()
            guard lower == "to" || lower == "cc" || lower == "bcc" else { continue }
            do {
                recipients += try Mailbox.parseList(stripGroups(value)).map(\.address.string)
            } catch {
                throw Problem(description: "\(name) header: \(error)")
            }
        }
        return recipients
    }

    /// The unfolded header fields, up to the first empty line.
    static func headerFields(_ message: [UInt8]) -> [(String, String)] {
        let text = String(decoding: message, as: UTF8.self)
        var fields: [(String, String)] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
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
