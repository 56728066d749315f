import MailCore

/// Greeting, EHLO/HELO, STARTTLS and AUTH: everything before the session is ready.
extension SessionStateMachine {
    mutating func greetingReceived(_ reply: SMTPReply) -> Action {
        switch reply.kind {
        case .positiveCompletion:
            state = .ehlo
            return .send([.ehlo(configuration.heloName)], .command)
        case .transientNegative, .permanentNegative:
            return fail("relay refused the session: \(reply)", reply: reply)
        case .positiveIntermediate, .invalid:
            return fail("unexpected greeting: \(reply)", reply: reply)
        }
    }

    /// `reply` is taken as received: EHLO keywords are never enhanced codes.
    mutating func ehloReplied(_ reply: SMTPReply) -> Action {
        if reply.kind == .positiveCompletion {
            capabilities = SMTPCapabilities(ehloReply: reply)
            return capabilitiesKnown()
        }
        // RFC 5321 §3.2: a server that does not know EHLO answers 500 or 502; HELO is the fall-back.
        if reply.code == 500 || reply.code == 502 {
            if configuration.security == .starttls && !isEncrypted {
                // HELO has no extensions, so no STARTTLS: never continue in plaintext.
                return fail("relay does not offer STARTTLS (it does not support EHLO: \(reply))", reply: reply)
            }
            state = .helo
            return .send([.helo(configuration.heloName)], .command)
        }
        return fail("EHLO refused: \(reply)", reply: reply)
    }

    mutating func heloReplied(_ reply: SMTPReply) -> Action {
        guard reply.kind == .positiveCompletion else { return fail("HELO refused: \(reply)", reply: reply) }
        capabilities = SMTPCapabilities()
        return capabilitiesKnown()
    }

    mutating func starttlsReplied(_ reply: SMTPReply) -> Action {
        guard reply.code == 220 else { return fail("STARTTLS refused: \(reply)", reply: reply) }
        state = .tlsHandshake(implicit: false)
        return .startTLS
    }

    /// After EHLO (or HELO): upgrade, authenticate, or be ready.
    private mutating func capabilitiesKnown() -> Action {
        if configuration.security == .starttls && !isEncrypted {
            // SPEC §4: the relay must offer STARTTLS; a missing offer may be an attacker's doing
            // (RFC 3207 §6), so this is a failure, never plaintext.
            guard capabilities.startTLS else { return fail("relay does not offer STARTTLS") }
            state = .starttls
            return .send([.starttls], .command)
        }
        return authenticateOrFinish()
    }

    private mutating func authenticateOrFinish() -> Action {
        guard let credentials = configuration.credentials else {
            state = .ready
            return .sessionReady
        }
        // Credentials go out only encrypted (SPEC §4), or in plaintext when the settings say so
        // explicitly. With starttls the upgrade has necessarily happened by now.
        guard isEncrypted || (configuration.allowPlaintextAuth && configuration.security == .none) else {
            return fail("refusing to send credentials over an unencrypted connection")
        }
        let offered = capabilities.authMechanisms
        guard !offered.isEmpty else { return fail("relay does not offer AUTH") }
        if offered.contains("PLAIN") {
            state = .auth(.plain)
            return .send([.authPlain(username: credentials.username, password: credentials.password)], .command)
        }
        if offered.contains("LOGIN") {
            state = .auth(.loginStart)
            return .send([.authLogin], .command)
        }
        let list = offered.joined(separator: " ")
        return fail("relay offers no AUTH mechanism this client supports (PLAIN, LOGIN); it offers \(list)")
    }

    mutating func authReplied(_ reply: SMTPReply, step: AuthStep) -> Action {
        guard let credentials = configuration.credentials else { return fail("AUTH without credentials") }
        switch (step, reply.code) {
        case (.plain, 235), (.plainResponse, 235), (.loginPassword, 235):
            state = .ready
            return .sessionReady
        case (.plain, 334):
            // The relay ignored the initial response and asks for it (RFC 4954 §4).
            state = .auth(.plainResponse)
            return .send([.authPlainResponse(username: credentials.username, password: credentials.password)], .command)
        case (.loginStart, 334):
            state = .auth(.loginUsername)
            return .send([.authLoginResponse(credentials.username)], .command)
        case (.loginUsername, 334):
            state = .auth(.loginPassword)
            return .send([.authLoginResponse(credentials.password.reveal())], .command)
        default:
            if reply.kind == .transientNegative || reply.kind == .permanentNegative {
                // SPEC §4: an AUTH failure defers; the reply is kept so the operator sees why.
                return fail("authentication failed: \(reply)", reply: reply)
            }
            return fail("unexpected reply to AUTH: \(reply)", reply: reply)
        }
    }
}
