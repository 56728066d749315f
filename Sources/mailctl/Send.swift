import ArgumentParser
import MailCore

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue a message.",
        discussion: """
            Examples:
              mailctl send --to ana@example.com --subject "Solicitação aprovada" \\
                  --text "Olá, Ana"
              mailctl send --to bob@example.com --cc "Carla Dias <carla@example.org>" \\
                  --subject Report --text-file body.txt --html-file body.html \\
                  --attach report.pdf --company acme
              mailctl send --kind system --to new.user@example.com --subject Welcome \\
                  --text "..." --header "X-Request-Id: 123" \\
                  --idempotency-key welcome-123
            """)

    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "A recipient (repeatable).") var to: [String] = []
    @Option(name: .long, help: "A Cc recipient (repeatable).") var cc: [String] = []
    @Option(name: .long, help: "A Bcc recipient (repeatable; never shown in the headers).") var bcc: [String] = []
    @Option(name: .long, help: "The subject.") var subject: String?
    @Option(name: .long, help: "The plain-text body.") var text: String?
    @Option(name: .long, help: "Read the plain-text body from a file.") var textFile: String?
    @Option(name: .long, help: "Read the HTML body from a file.") var htmlFile: String?
    @Option(name: .long, help: "Attach a file (repeatable).") var attach: [String] = []
    @Option(name: .long, help: "The sender (a user; the default sender rules may override it).") var from: String?
    @Option(name: .long, help: "The Reply-To address.") var replyTo: String?
    @Option(name: .long, help: "The company whose settings apply.") var company: String?
    @Option(name: .long, help: "user (default) or system.") var kind: String?
    @Option(name: .long, help: "An extra header 'X-Name: value' (repeatable).") var header: [String] = []
    @Option(name: .long, help: "A key that makes a repeated send of the same message a no-op.") var idempotencyKey: String?

    func validate() throws {
        if text != nil && textFile != nil { throw ValidationError("give --text or --text-file, not both") }
        if to.isEmpty && cc.isEmpty && bcc.isEmpty { throw ValidationError("give at least one --to, --cc or --bcc") }
        if text == nil && textFile == nil && htmlFile == nil {
            throw ValidationError("give a body: --text, --text-file or --html-file")
        }
    }

    func run() throws {
        var message: [(String, JSONValue)] = []
        if let company { message.append(("company", .string(company))) }
        if let kind { message.append(("kind", .string(kind))) }
        if let from { message.append(("from", .string(from))) }
        message.append(("to", .array(to.map(JSONValue.string))))
        if !cc.isEmpty { message.append(("cc", .array(cc.map(JSONValue.string)))) }
        if !bcc.isEmpty { message.append(("bcc", .array(bcc.map(JSONValue.string)))) }
        if let replyTo { message.append(("reply_to", .string(replyTo))) }
        if let subject { message.append(("subject", .string(subject))) }
        if let text { message.append(("text", .string(text))) }
        if let textFile { message.append(("text", .string(try readTextFile(textFile)))) }
        if let htmlFile { message.append(("html", .string(try readTextFile(htmlFile)))) }
        if !attach.isEmpty {
            var attachments: [JSONValue] = []
            for path in attach {
                let data = try readWholeFile(path)
                let name = String(path.split(separator: "/").last ?? Substring(path))
                attachments.append([
                    "filename": .string(name), "content_type": .string(ContentTypes.guess(name)),
                    "data": .string(Base64.encodeToString(data)),
                ])
            }
            message.append(("attachments", .array(attachments)))
        }
        if !header.isEmpty {
            var headers: [(String, JSONValue)] = []
            for h in header {
                guard let colon = h.firstIndex(of: ":") else {
                    throw ValidationError("--header must look like 'X-Name: value' (got '\(h)')")
                }
                headers.append((String(h[..<colon]).trimmingSpaces, .string(String(h[h.index(after: colon)...]).trimmingSpaces)))
            }
            message.append(("headers", .object(headers)))
        }
        var request: [(String, JSONValue)] = [("op", "enqueue"), ("message", .object(message))]
        if let idempotencyKey { request.append(("idempotency_key", .string(idempotencyKey))) }
        let answer = try perform(.object(request), options)
        if !options.json {
            let id = answer["id"]?.cell ?? "?"
            print(answer["duplicate"]?.boolValue == true ? "already queued as \(id) (same idempotency key)" : "queued \(id)")
        }
    }
}

/// Content types for attachments, from the file name's extension.
enum ContentTypes {
    static let known: [String: String] = [
        "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "html": "text/html", "htm": "text/html",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "zip": "application/zip", "json": "application/json", "xml": "application/xml",
        "doc": "application/msword", "xls": "application/vnd.ms-excel",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt": "application/vnd.oasis.opendocument.text", "ics": "text/calendar",
    ]

    static func guess(_ name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        return known[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}
