import ArgumentParser
import MailCore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List messages, newest first.",
        discussion: "Examples:\n  mailctl list\n  mailctl list --state failed --company acme --limit 20")

    @OptionGroup var options: ClientOptions
    @Option(help: "Only this state: queued, sending, deferred, sent, failed, cancelled.") var state: String?
    @Option(help: "Only this company.") var company: String?
    @Option(help: "At most this many (default 100).") var limit: Int?

    func validate() throws {
        if let state, MessageState(rawValue: state) == nil {
            throw ValidationError(
                "--state \(state) is not one of \(MessageState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        var request: [(String, JSONValue)] = [("op", "list")]
        if let state { request.append(("state", .string(state))) }
        if let company { request.append(("company", .string(company))) }
        if let limit { request.append(("limit", .int(limit))) }
        let answer = try perform(.object(request), options)
        guard !options.json else { return }
        let messages = answer["messages"]?.arrayValue ?? []
        if messages.isEmpty {
            print("no messages")
            return
        }
        var table = Table("ID", "STATE", "COMPANY", "TRIES", "CREATED", "NEXT ATTEMPT", "TO", "SUBJECT", "LAST ERROR")
        for m in messages {
            table.add(
                m["id"]?.cell ?? "-", m["state"]?.cell ?? "-", m["company"]?.cell ?? "-", m["attempts"]?.cell ?? "0",
                m["created_at"]?.cell ?? "-", m["next_attempt_at"]?.cell ?? "-", clip(m["to"]?.cell ?? "-", 40),
                clip(m["subject"]?.cell ?? "-", 40), clip(m["last_error"]?.cell ?? "-", 60))
        }
        print(table.render())
    }
}

func clip(_ text: String, _ width: Int) -> String {
    text.count <= width ? text : String(text.prefix(width - 1)) + "…"
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a message: its recipients with their state and last reply, and every attempt.",
        discussion: "Example:\n  mailctl show 42")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The message id.") var id: String

    func run() throws {
        let answer = try perform(["op": "show", "id": .string(id)], options)
        guard !options.json, let m = answer["message"] else { return }
        let fields: [(String, String)] = [
            ("id", m["id"]?.cell ?? "-"), ("state", m["state"]?.cell ?? "-"), ("company", m["company"]?.cell ?? "-"),
            ("subject", m["subject"]?.cell ?? "-"), ("from", m["from"]?.cell ?? "-"),
            ("envelope from", m["envelope_from"]?.cell ?? "-"), ("message-id", m["message_id"]?.cell ?? "-"),
            ("size", (m["size"]?.cell ?? "0") + " bytes"), ("created", m["created_at"]?.cell ?? "-"),
            ("next attempt", m["next_attempt_at"]?.cell ?? "-"), ("attempts", String(m["attempts"]?.arrayValue?.count ?? 0)),
            ("last error", m["last_error"]?.cell ?? "-"),
        ]
        for (name, value) in fields { print(name.padding(to: 14) + value) }
        if m["uncertain"]?.boolValue == true {
            print("uncertain     yes: an attempt sent the data but never got the relay's final reply;"
                + " the message may have been delivered twice")
        }
        print("")
        var recipients = Table("RECIPIENT", "STATE", "LAST REPLY")
        for r in m["recipients"]?.arrayValue ?? [] {
            recipients.add(r["address"]?.cell ?? "-", r["state"]?.cell ?? "-", r["reply"]?.cell ?? "-")
        }
        print(recipients.render())
        let attempts = m["attempts"]?.arrayValue ?? []
        if !attempts.isEmpty {
            print("")
            var table = Table("ATTEMPT AT", "RELAY", "OUTCOME", "UNCERTAIN", "ERROR")
            for a in attempts {
                table.add(
                    a["at"]?.cell ?? "-", a["relay"]?.cell ?? "-", a["outcome"]?.cell ?? "-",
                    a["uncertain"]?.boolValue == true ? "yes" : "no", a["error"]?.cell ?? "-")
            }
            print(table.render())
        }
    }
}

extension String {
    func padding(to width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
