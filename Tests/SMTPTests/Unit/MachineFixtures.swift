import MailCore

@testable import SMTP

/// Replies and machines for the state-machine tests: no sockets anywhere.
enum Fixture {
    static let relay = "relay.test:25"

    static func reply(_ code: Int, _ lines: String...) -> SMTPReply {
        SMTPReply(code: code, lines: lines.isEmpty ? [""] : lines)
    }

    static func ehlo(_ keywords: String...) -> SMTPReply {
        SMTPReply(code: 250, lines: ["relay.test"] + keywords)
    }

    static func machine(
        security: TransportSecurity = .none, credentials: (String, String)? = nil, allowPlaintextAuth: Bool = false
    ) -> SessionStateMachine {
        SessionStateMachine(
            configuration: .init(
                relay: relay, security: security, heloName: "client.test",
                credentials: credentials.map { .init(username: $0.0, password: Secret($0.1)) },
                allowPlaintextAuth: allowPlaintextAuth))
    }

    /// A plaintext machine past EHLO with `keywords` offered.
    static func ready(_ keywords: String...) -> SessionStateMachine {
        var m = machine()
        _ = m.start()
        _ = m.replyReceived(reply(220, "relay.test ESMTP"))
        _ = m.replyReceived(SMTPReply(code: 250, lines: ["relay.test"] + keywords))
        precondition(m.state == .ready)
        return m
    }

    static func envelope(_ recipients: String..., size: Int = 100, utf8: Bool = false, eightBit: Bool = false)
        -> Envelope
    {
        Envelope(
            sender: "from@example.com", recipients: recipients, size: size, needsSMTPUTF8: utf8, has8BitData: eightBit)
    }

    static func dispositions(_ action: SessionStateMachine.Action) -> [RecipientDisposition] {
        result(action)?.recipients.map(\.disposition) ?? []
    }

    static func result(_ action: SessionStateMachine.Action) -> DeliveryResult? {
        if case .transactionFinished(let start, _) = action { return start.finished }
        return nil
    }

    static func closes(_ action: SessionStateMachine.Action) -> Bool? {
        if case .transactionFinished(_, let close) = action { return close }
        return nil
    }

    static func sessionError(_ action: SessionStateMachine.Action) -> SMTPError? {
        if case .sessionFailed(let error) = action { return error }
        return nil
    }

    static func sentLines(_ action: SessionStateMachine.Action) -> [String] {
        if case .send(let commands, _) = action { return commands.map(\.line) }
        return []
    }
}
