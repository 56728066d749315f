/// A request of the socket protocol (SPEC §3), with its JSON types checked.
public enum Request: Sendable, Equatable {
    case ping
    case enqueue(EnqueueRequest)
    case status
    case reload
    case test(TestRequest)
    case list(ListRequest)
    case show(id: String)
    case retry(RetryTarget)
    case cancel(id: String)
    case flush

    /// The `op` names, in the order of SPEC §3.
    public static let operations = ["ping", "enqueue", "status", "reload", "test", "list", "show", "retry", "cancel", "flush"]

    public var op: String {
        switch self {
        case .ping: return "ping"
        case .enqueue: return "enqueue"
        case .status: return "status"
        case .reload: return "reload"
        case .test: return "test"
        case .list: return "list"
        case .show: return "show"
        case .retry: return "retry"
        case .cancel: return "cancel"
        case .flush: return "flush"
        }
    }
}

public struct EnqueueRequest: Sendable, Equatable {
    public var message: MessageSubmission
    public var idempotencyKey: String?

    public init(message: MessageSubmission, idempotencyKey: String? = nil) {
        self.message = message
        self.idempotencyKey = idempotencyKey
    }
}

public struct TestRequest: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        /// The global settings.
        case global
        /// The effective settings of a company.
        case company(String)
        /// An inline company-file object, validated like a file.
        case settings(JSONValue)
    }

    public var to: String
    public var target: Target

    public init(to: String, target: Target) {
        self.to = to
        self.target = target
    }
}

public struct ListRequest: Sendable, Equatable {
    public var state: MessageState?
    public var company: String?
    public var limit: Int

    public static let defaultLimit = 100
    public static let maximumLimit = 10_000

    public init(state: MessageState? = nil, company: String? = nil, limit: Int = ListRequest.defaultLimit) {
        self.state = state
        self.company = company
        self.limit = limit
    }
}

public enum RetryTarget: Sendable, Equatable {
    case id(String)
    case allFailed
}

extension Request {
    /// Decodes a request from one parsed JSON line. The `req` value is returned even when the rest is
    /// refused, so the error answer can echo it.
    public static func decode(_ value: JSONValue) -> (req: JSONValue?, request: Result<Request, ProtocolError>) {
        guard case .object = value else {
            return (nil, .failure(.badRequest("a request must be a JSON object, not \(value.typeDescription)")))
        }
        let req = value["req"]
        do {
            return (req, .success(try decodeRequest(ObjectReader(value, path: "request"))))
        } catch {
            return (req, .failure(error))
        }
    }

    /// Parses and decodes one request line.
    public static func decode(line: [UInt8]) -> (req: JSONValue?, request: Result<Request, ProtocolError>) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch {
            return (nil, .failure(.badRequest("not JSON: \(error)")))
        }
        return decode(value)
    }

    private static func decodeRequest(_ r: ObjectReader) throws(ProtocolError) -> Request {
        guard r.has("op") else { throw .badRequest("request has no \"op\"; one of: \(operations.joined(separator: ", "))") }
        let op = try r.requiredString("op")
        func fields(_ names: String...) throws(ProtocolError) {
            try r.rejectUnknown(allowed: ["op", "req"] + names)
        }
        switch op {
        case "ping": try fields(); return .ping
        case "status": try fields(); return .status
        case "reload": try fields(); return .reload
        case "flush": try fields(); return .flush
        case "enqueue":
            try fields("message", "idempotency_key")
            guard let message = r.value("message") else { throw .badRequest("message is required") }
            let key = try r.string("idempotency_key")
            if let key, key.isEmpty || key.utf8.count > 200 {
                throw .badRequest("idempotency_key must be 1 to 200 bytes")
            }
            return .enqueue(EnqueueRequest(message: try decodeSubmission(message), idempotencyKey: key))
        case "test":
            try fields("to", "company", "settings")
            let to = try r.requiredString("to")
            let company = try r.string("company")
            let settings = try r.object("settings")
            switch (company, settings) {
            case (.some, .some): throw .badRequest("test takes company or settings, not both")
            case (.some(let c), nil):
                guard CompanyID.isValid(c) else { throw .invalidMessage("company \"\(c)\" is invalid: \(CompanyID.rule)") }
                return .test(TestRequest(to: to, target: .company(c)))
            case (nil, .some(let s)): return .test(TestRequest(to: to, target: .settings(.object(s))))
            case (nil, nil): return .test(TestRequest(to: to, target: .global))
            }
        case "list":
            try fields("state", "company", "limit")
            var list = ListRequest()
            if let s = try r.string("state") {
                guard let state = MessageState(rawValue: s) else {
                    throw .badRequest("state \"\(s)\" is not one of \(MessageState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                list.state = state
            }
            list.company = try r.string("company")
            if let limit = try r.int("limit") {
                guard (1...ListRequest.maximumLimit).contains(limit) else {
                    throw .badRequest("limit must be between 1 and \(ListRequest.maximumLimit)")
                }
                list.limit = limit
            }
            return .list(list)
        case "show":
            try fields("id")
            return .show(id: try r.requiredString("id"))
        case "cancel":
            try fields("id")
            return .cancel(id: try r.requiredString("id"))
        case "retry":
            try fields("id", "state")
            let id = try r.string("id")
            let state = try r.string("state")
            switch (id, state) {
            case (.some(let id), nil): return .retry(.id(id))
            case (nil, "failed"): return .retry(.allFailed)
            case (nil, .some(let s)): throw .badRequest("retry takes state \"failed\", not \"\(s)\"")
            case (.some, .some): throw .badRequest("retry takes id or state, not both")
            case (nil, nil): throw .badRequest("retry needs id, or state \"failed\"")
            }
        default:
            throw .badRequest("unknown op \"\(op)\"; one of: \(operations.joined(separator: ", "))")
        }
    }

    static func decodeSubmission(_ value: JSONValue) throws(ProtocolError) -> MessageSubmission {
        let m = try ObjectReader(value, path: "message")
        let company = try m.string("company")
        if let company, !CompanyID.isValid(company) {
            throw .invalidMessage("message.company \"\(company)\" is invalid: \(CompanyID.rule)")
        }
        if m.value("raw") != nil {
            try m.rejectUnknown(allowed: ["company", "raw", "recipients", "from"])
            let raw = try m.requiredString("raw")
            guard let bytes = Base64.decode(raw) else { throw .invalidMessage("message.raw is not valid base64") }
            let recipients = try m.stringArray("recipients")
            guard m.has("recipients") else { throw .badRequest("message.recipients is required with message.raw") }
            return .raw(RawMessageRequest(company: company, raw: bytes, recipients: recipients, from: try m.string("from")))
        }
        // The ready-made form's own fields given as null are absent, as any optional field is.
        try m.rejectUnknown(
            allowed: [
                "company", "kind", "from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments", "headers",
            ] + ["raw", "recipients"].filter { m.has($0) && m.value($0) == nil })
        var message = MessageRequest()
        message.company = company
        if let kind = try m.string("kind") {
            guard let k = MessageKind(rawValue: kind) else {
                throw .invalidMessage("message.kind \"\(kind)\" is not one of user, system")
            }
            message.kind = k
        }
        message.from = try m.string("from")
        message.to = try m.stringArray("to")
        message.cc = try m.stringArray("cc")
        message.bcc = try m.stringArray("bcc")
        message.replyTo = try m.string("reply_to")
        message.subject = try m.string("subject")
        message.text = try m.string("text")
        message.html = try m.string("html")
        for (i, item) in try m.array("attachments").enumerated() {
            let a = try ObjectReader(item, path: "message.attachments[\(i)]")
            try a.rejectUnknown(allowed: ["filename", "content_type", "data"])
            let filename = try a.requiredString("filename")
            let contentType = try a.string("content_type") ?? "application/octet-stream"
            guard let data = Base64.decode(try a.requiredString("data")) else {
                throw .invalidMessage("message.attachments[\(i)].data is not valid base64")
            }
            message.attachments.append(Attachment(filename: filename, contentType: contentType, data: data))
        }
        if let headers = try m.object("headers") {
            for (name, value) in headers {
                guard case .string(let v) = value else {
                    throw .badRequest("message.headers.\(name) must be a string, not \(value.typeDescription)")
                }
                message.headers.append(HeaderField(name, v))
            }
        }
        return .compose(message)
    }
}
