import Config
import Logging
import MIME
import MailCore
import SMTP

/// The `test` request (SPEC §3): with a company's effective settings, or inline settings an administrator
/// has not saved yet, connect, secure, authenticate and send a test e-mail from D to `to`, reporting every
/// command and reply (AUTH payloads masked). Bounded by the settings' `timeout` from end to end.
enum ConnectionTest {
    /// Tests running at once, at most: each holds a thread and a connection to a host the client names,
    /// and any client of the socket may ask for one.
    static let limit = 4
    private static let running = Locked(0)

    static func run(
        _ request: TestRequest, configuration: Configuration, environment: [String: String], logger: Logger
    ) async -> Response {
        let admitted = running.withLock { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else {
            return .failure(.unavailable, "\(limit) connection tests are already running; try again when one has ended")
        }
        defer { running.withLock { $0 -= 1 } }
        // Reading the settings' files (ca_file) and the session itself block: never on the cooperative pool.
        return await onDedicatedThread("connection-test", noThread: { .failure(.unavailable, $0) }) {
            runBlocking(request, configuration: configuration, environment: environment, logger: logger)
        }
    }

    private static func runBlocking(
        _ request: TestRequest, configuration: Configuration, environment: [String: String], logger: Logger
    ) -> Response {
        let policy: RelayPolicy
        let sender: Mailbox
        /// Which settings were tested, when that is not what the request seems to ask.
        var settingsNote: String?
        switch request.target {
        case .global:
            policy = configuration.smtp
            sender = configuration.defaultSender(for: nil)
        case .company(let id):
            policy = configuration.policy(for: id)
            sender = configuration.defaultSender(for: id)
            if configuration.companies[id]?.enabled != true {
                let why = configuration.companies[id] == nil ? "has no file" : "has its file disabled"
                settingsNote = "company \(id) \(why), so its mail goes through the global [smtp] relay: that is what was tested"
            }
        case .settings(let json):
            switch CompanyLoader.inline(ConfigValue.from(json: json), configuration: configuration, environment: environment) {
            case .failure(let error):
                return .failure(
                    ProtocolError(
                        .configInvalid, error.issues.map(\.description).joined(separator: "; "),
                        extra: ["errors": .array(error.issues.map { .string($0.description) })]))
            case .success(let company):
                policy = company.policy
                sender = Mailbox(displayName: company.senderName ?? configuration.sender.name, address: company.sender!)
            }
        }
        let recipient: EmailAddress
        do {
            // `Name <address>` as well, as an enqueue takes it.
            recipient = try Mailbox.parse(request.to).address
        } catch {
            return .failure(.invalidMessage("to: \(error)"))
        }
        let relay = policy.relay
        let heloName = configuration.daemon.heloName
        let now = SystemWallClock().now()
        let message = MessageComposer.compose(
            CompositionInput(
                from: sender, replyTo: nil, to: [Mailbox(address: recipient)], cc: [], bcc: [],
                subject: "maild connection test", text: """
                    This is a connection test sent by maild.

                    Time:   \(now.rfc3339)
                    Relay:  \(relay.endpoint) (security: \(relay.security.rawValue), auth: \(relay.auth ? "yes" : "no"))
                    Sender: \(sender.address.string)

                    If you can read this, these settings can deliver mail.
                    """,
                html: nil, attachments: [], headers: [], date: now,
                messageID: MessageIDGenerator.generate(domain: heloName)))

        let transcript = Transcript()
        let outcome: Result<DeliveryResult, SMTPError> = {
            let options = SMTPClientOptions(
                relay: relay, heloName: heloName, finalReplyTimeout: Double(relay.timeout),
                deadline: monotonicSeconds() + Double(relay.timeout))
            do throws(SMTPError) {
                let connection = try SMTPConnection.open(options, logger: logger, transcript: transcript)
                let envelope = Envelope(
                    sender: message.envelopeFrom, recipients: message.recipients, size: message.bytes.count,
                    needsSMTPUTF8: message.needsSMTPUTF8, has8BitData: message.has8BitData)
                let result = connection.send(envelope, data: message.bytes)
                connection.close()
                return .success(result)
            } catch {
                return .failure(error)
            }
        }()
        let lines = JSONValue.array(transcript.lines.map(JSONValue.string))
        switch outcome {
        case .failure(let error):
            return .failure(ProtocolError(.smtpFailed, error.reason, extra: ["transcript": lines]))
        case .success(let result):
            if let problem = result.recipients.first(where: {
                if case .delivered = $0.disposition { return false } else { return true }
            }) {
                return .failure(
                    ProtocolError(.smtpFailed, result.error ?? problem.disposition.reply, extra: ["transcript": lines]))
            }
            var fields: [(String, JSONValue)] = [("relay", .string(relay.endpoint)), ("transcript", lines)]
            if let settingsNote { fields.append(("note", .string(settingsNote))) }
            return .success(fields)
        }
    }
}
