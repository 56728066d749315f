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
        /// `-F`: the full name of a From header added when the message has none.
        var fullName: String?
        var dotEndsInput = true
        /// `-q`: deliver the queue now (maild's `flush`) instead of sending a message.
        var flushQueue = false
        /// `-bp` (and the name `mailq`): list the mail waiting to be delivered.
        var listQueue = false
        var company: String? = getenv("MAILD_COMPANY").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        var socket: String?
    }

    struct UsageError: Error { let message: String }

    /// Postfix's sendmail options, parsed as its getopt(3) string `A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx`
    /// does: flags cluster (`-ti`), an option's value is the rest of its word or the next word (`-fa@b`,
    /// `-f a@b`), and `--` ends the options.
    static let optionsWithValue: Set<Character> = ["A", "B", "C", "F", "L", "N", "O", "R", "V", "X", "b", "e", "f", "h", "o", "p", "r", "q"]
    static let flags: Set<Character> = ["G", "I", "U", "c", "i", "m", "n", "t", "v", "x"]

    static func parse(_ args: [String]) throws(UsageError) -> Arguments {
        var result = Arguments()
        var i = 0
        var optionsDone = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if optionsDone || !arg.hasPrefix("-") || arg == "-" {
                result.recipients.append(arg)
                continue
            }
            if arg == "--" {
                optionsDone = true
                continue
            }
            if arg.hasPrefix("--") {
                let (name, attached) = arg.firstIndex(of: "=").map { (String(arg[..<$0]), String(arg[arg.index(after: $0)...])) }
                    ?? (arg, nil)
                guard name == "--company" || name == "--socket" else { throw UsageError(message: "unknown option \(arg)") }
                var value = attached
                if value == nil {
                    guard i < args.count else { throw UsageError(message: "\(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                if name == "--company" { result.company = value } else { result.socket = value }
                continue
            }
            var letters = Substring(arg.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                if flags.contains(letter) {
                    if letter == "t" { result.fromHeaders = true }
                    if letter == "i" { result.dotEndsInput = false }
                    continue
                }
                guard optionsWithValue.contains(letter) else {
                    throw UsageError(message: "unknown option -\(letter) (in \(arg))")
                }
                // `-q` alone (Postfix: deliver the queue now) takes no value; `-q1h` ignores its interval.
                if letter == "q" {
                    result.flushQueue = true
                    break
                }
                var value = String(letters)
                letters = ""
                if value.isEmpty {
                    guard i < args.count else { throw UsageError(message: "-\(letter) needs a value") }
                    value = args[i]
                    i += 1
                }
                switch letter {
                case "f", "r": result.sender = value
                case "F":
                    // A line break would end the From header the name goes into and start another.
                    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                        throw UsageError(message: "-F: the full name must not contain line breaks or control characters")
                    }
                    result.fullName = value
                case "o" where value == "i": result.dotEndsInput = false  // -oi; other -o options mean nothing here
                case "b" where value == "p": result.listQueue = true
                case "b" where value != "m":
                    throw UsageError(message: "-b\(value) is not supported; maild queues mail (-bm) and lists it (-bp)")
                default: break  // body type, DSN, envelope id, log file, …: accepted, no meaning here
                }
            }
        }
        return result
    }

    static func run(_ args: [String]) -> Int32 {
        let arguments: Arguments
        do {
            arguments = try parse(args)
        } catch {
            printError("sendmail: \(error.message)")
            printError("usage: sendmail [-t] [-i] [-f sender] [-F full-name] [--company ID] [recipient ...]")
            return ExitStatus.usage
        }
        if arguments.flushQueue { return flushQueue(socket: arguments.socket) }
        if arguments.listQueue { return listQueue(socket: arguments.socket) }
        var message = readStandardInput(stopAtDot: arguments.dotEndsInput)
        if message.isEmpty {
            printError("sendmail: no message on standard input")
            return ExitStatus.noInput
        }
        // Like Postfix's cleanup: the header section ends at the first line that is not a header field, and
        // what follows is body (`echo "disk full" | sendmail admin@…` is all body).
        if let at = HeaderRecipients.missingSeparator(message) { message.insert(0x0A, at: at) }
        // An argument may list several addresses, separated by commas, as sendmail(1) allows.
        var recipients = arguments.recipients.flatMap { argument in
            (try? Mailbox.parseList(argument)).map { $0.map(\.address.string) } ?? [argument]
        }
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
        let fields = HeaderRecipients.headerFields(message)
        // Said in sendmail's terms (maild's own answer names its protocol's fields).
        if arguments.sender == nil && !fields.contains(where: { $0.0.lowercased() == "from" }) {
            printError("sendmail: no sender: give -f ADDRESS, or a From header in the message")
            return ExitStatus.usage
        }
        // Like Postfix's cleanup: a message without a From header gets one, from -f and -F.
        if let sender = arguments.sender, !fields.contains(where: { $0.0.lowercased() == "from" }) {
            // After an mbox "From " line, which maild drops: it must stay first.
            let at = message.starts(with: Array("From ".utf8)) ? (message.firstIndex(of: 0x0A).map { $0 + 1 } ?? message.count) : 0
            message.insert(contentsOf: HeaderRecipients.fromHeader(address: sender, fullName: arguments.fullName), at: at)
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
            return error.exitStatus
        }
        guard answer["ok"]?.boolValue != true else { return 0 }
        let code = answer["error"]?["code"]?.stringValue ?? ""
        printError("sendmail: \(answer["error"]?["message"]?.stringValue ?? "refused") (\(code))")
        switch code {
        case "invalid_message", "too_large", "bad_request": return ExitStatus.dataError
        case "unavailable": return ExitStatus.tempFail
        case "forbidden": return ExitStatus.noPermission
        default: return ExitStatus.software
        }
    }
}

extension Sendmail {
    /// `mailq`, `sendmail -bp`: the mail not yet delivered (queued, being sent, deferred), oldest first,
    /// with each recipient and the reason of the last deferral, as Postfix's mailq shows it.
    static func listQueue(socket: String?) -> Int32 {
        var waiting: [JSONValue] = []
        var capped = false
        do {
            for state in ["queued", "sending", "deferred"] {
                let request: JSONValue = .object([("op", "list"), ("state", .string(state)), ("limit", .int(ListRequest.maximumLimit))])
                let answer = try exchange(request, socket: socket)
                guard answer["ok"]?.boolValue == true else {
                    printError("mailq: \(answer["error"]?["message"]?.stringValue ?? "refused")")
                    return ExitStatus.refused(answer["error"]?["code"]?.stringValue)
                }
                let messages = answer["messages"]?.arrayValue ?? []
                capped = capped || messages.count == ListRequest.maximumLimit
                waiting += messages
            }
        } catch {
            printError("mailq: \(error)")
            return error.exitStatus
        }
        guard !waiting.isEmpty else {
            print("Mail queue is empty")
            return 0
        }
        waiting.sort { Int($0["id"]?.stringValue ?? "") ?? 0 < Int($1["id"]?.stringValue ?? "") ?? 0 }
        var table = Table("ID", "STATE", "COMPANY", "CREATED", "FROM", "TO", "LAST ERROR")
        for m in waiting {
            table.add(
                m["id"]?.cell ?? "-", m["state"]?.cell ?? "-", m["company"]?.cell ?? "-", m["created_at"]?.cell ?? "-",
                clip(m["from"]?.cell ?? "-", 40), clip(m["to"]?.cell ?? "-", 40), clip(m["last_error"]?.cell ?? "-", 60))
        }
        print(table.render())
        let more = capped ? " (at most \(ListRequest.maximumLimit) of each state shown: mailctl status counts them all)" : ""
        print("-- \(waiting.count) message\(waiting.count == 1 ? "" : "s") waiting\(more)")
        return 0
    }

    /// `sendmail -q`: every deferred message due now (maild's `flush`).
    static func flushQueue(socket: String?) -> Int32 {
        do {
            let answer = try exchange(.object([("op", "flush")]), socket: socket)
            guard answer["ok"]?.boolValue == true else {
                printError("sendmail: \(answer["error"]?["message"]?.stringValue ?? "refused")")
                return ExitStatus.tempFail
            }
            return 0
        } catch {
            printError("sendmail: \(error)")
            return error.exitStatus
        }
    }
}
