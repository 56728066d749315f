import MailCore

/// The SMTP client conversation (RFC 5321 §3, §4.1; RFC 3207; RFC 4954; RFC 2920) as a pure state
/// machine, in the manner of postgres-nio's `ConnectionStateMachine` and OpenSMTPD's `mta_session.c`:
/// events go in (a reply, a finished TLS handshake, a transport failure, a caller's request) and an
/// action comes out. `SMTPConnection` owns the socket and only carries the actions out; tests feed
/// events without one.
///
///     idle ─▶ greeting ─▶ ehlo ─(500/502)─▶ helo
///       │                   │ starttls: STARTTLS ─▶ tlsHandshake ─▶ ehlo (capabilities forgotten)
///       └(tls)─▶ tlsHandshake ─▶ greeting
///     ehlo/helo ─▶ auth (PLAIN, else LOGIN) ─▶ ready
///     ready ─▶ transaction (MAIL, RCPT…, DATA) ─▶ messageData (354) ─▶ sendingData ─▶ dotReply
///     dotReply ─(2xx)─▶ ready;   transaction/dotReply ─(failed)─▶ resetting (RSET) ─▶ ready
///     dotReply ─(any reply, the next MAIL… sent behind the dot)─▶ transaction (the next one's)
///     ready ─▶ quitting (QUIT) ─▶ closed;   dotReply ─(QUIT went out behind the dot)─▶ quitting
///     any ─(421, lost connection, timeout, nonsense)─▶ closed
struct SessionStateMachine {
    struct Configuration: Sendable, Equatable {
        /// `host:port`, as results name the relay.
        var relay: String
        var security: TransportSecurity
        var heloName: String
        /// nil when the relay is used without AUTH.
        var credentials: Credentials?
        /// SPEC §2.1 `allow_plaintext_auth`.
        var allowPlaintextAuth: Bool
        /// Distinguishes this session's transactions from every other session's in the process, so a
        /// `TransactionStart` handed to the wrong connection cannot finish that one's transaction.
        var sessionNumber: Int = 0
    }

    struct Credentials: Sendable, Equatable {
        var username: String
        var password: Secret
    }

    /// How long the driver may wait for the reply an action asks for.
    enum ReplyWait: Sendable, Equatable {
        /// The relay timeout (SPEC §4).
        case command
        /// The final-dot timeout (RFC 5321 §4.5.3.2.6).
        case finalDot
        /// A short wait: QUIT is a courtesy.
        case quit
    }

    /// What the driver does next.
    enum Action: Sendable, Equatable {
        /// Write these commands in one write, then read a reply.
        case send([SMTPCommand], ReplyWait)
        /// Read the next reply (the greeting, or the next of a pipelined group).
        case awaitReply(ReplyWait)
        /// Discard anything received so far, run the TLS handshake, report `tlsEstablished()`.
        case startTLS
        /// Write the dot-stuffed message data, the final dot and these commands in one write (QUIT, or
        /// the next transaction's MAIL, RCPT… and DATA; RFC 2920 §3.1 lets message content start a group),
        /// report `messageDataSent()`.
        case sendMessageData(then: [SMTPCommand])
        /// `open` is done.
        case sessionReady
        /// `open` failed; close the connection.
        case sessionFailed(SMTPError)
        /// DATA was accepted: hand the caller this and wait for its data.
        case transactionReady(TransactionStart)
        /// The transaction is over (its `finished` is set); close the connection when asked to.
        case transactionFinished(TransactionStart, closeConnection: Bool)
        /// Close the connection.
        case close
    }

    /// What went wrong below SMTP, as the driver reports it.
    enum TransportFailure: Sendable, Equatable {
        case timedOut(seconds: Double)
        case closed(midReply: Bool)
        /// The bytes were not a reply (see `ReplyParseError`).
        case badReply(String)
        case io(String)
        case tls(String)
    }

    enum AuthStep: Sendable, Equatable {
        case plain, plainResponse, loginStart, loginUsername, loginPassword
    }

    enum State: Sendable, Equatable {
        case idle
        case greeting
        case ehlo
        case helo
        case starttls
        case tlsHandshake(implicit: Bool)
        case auth(AuthStep)
        case ready
        case transaction(TransactionProgress)
        case messageData(TransactionProgress)
        case sendingData(TransactionProgress)
        case dotReply(TransactionProgress)
        case resetting(TransactionStart)
        case quitting
        case closed(reason: String)
    }

    // The setters below are internal only because the machine's extensions live in sibling files
    // (Handshake, Transaction); nothing outside SessionStateMachine* assigns them.
    let configuration: Configuration
    var state: State = .idle
    /// What the relay offered in its last EHLO (empty before it, after HELO, and right after TLS).
    var capabilities = SMTPCapabilities()
    /// TLS is up (implicit or after STARTTLS).
    var isEncrypted = false
    var transactionCount = 0
    /// QUIT went out right behind the final dot (RFC 2920 allows it as the last command of a group):
    /// the dot's reply ends the session and the next reply is QUIT's.
    var quitQueued = false
    /// The next transaction, whose MAIL, RCPT… and DATA went out right behind the final dot; it becomes
    /// the current one when the dot's reply came.
    var sentAhead: TransactionProgress?
    /// That transaction, after the dot's reply, until `beginTransaction` picks it up with its envelope.
    var awaitingPickup: Int?

    init(configuration: Configuration) {
        self.configuration = configuration
        self.transactionCount = configuration.sessionNumber << 32
    }

    /// Whether the connection can still carry transactions.
    var isUsable: Bool {
        switch state {
        case .idle, .quitting, .closed: return false
        default: return true
        }
    }

    /// Why the connection ended, once it has.
    var closedReason: String? {
        if case .closed(let reason) = state { return reason }
        return nil
    }

    // MARK: Events

    /// The TCP connection is up.
    mutating func start() -> Action {
        guard case .idle = state else { return fail("session started twice") }
        if configuration.security == .tls {
            // Implicit TLS (RFC 8314 §3.3): the handshake comes before the greeting.
            state = .tlsHandshake(implicit: true)
            return .startTLS
        }
        state = .greeting
        return .awaitReply(.command)
    }

    /// A complete reply arrived.
    mutating func replyReceived(_ received: SMTPReply) -> Action {
        let reply = capabilities.enhancedStatusCodes ? received.splittingEnhancedCode() : received
        switch state {
        case .greeting: return greetingReceived(reply)
        case .ehlo: return ehloReplied(received)
        case .helo: return heloReplied(reply)
        case .starttls: return starttlsReplied(reply)
        case .auth(let step): return authReplied(reply, step: step)
        case .transaction(let progress):
            // The state lets go of the progress while it is updated, so its arrays are changed in place
            // instead of copied for every reply; transactionReplied puts it back before anything else.
            state = .idle
            return transactionReplied(reply, progress)
        case .dotReply(let progress):
            state = .idle
            return dotReplied(reply, progress)
        case .resetting(let start): return resetReplied(reply, start)
        case .quitting:
            state = .closed(reason: "closed after QUIT")
            return .close
        case .idle, .tlsHandshake, .ready, .messageData, .sendingData, .closed:
            return fail("unexpected reply \(reply)", reply: reply)
        }
    }

    /// The TLS handshake succeeded (the certificate was verified unless `tls_verify = false`).
    mutating func tlsEstablished() -> Action {
        guard case .tlsHandshake(let implicit) = state else { return fail("TLS established out of turn") }
        isEncrypted = true
        // RFC 3207 §4.2: forget everything learned before TLS; only the EHLO after it counts.
        capabilities = SMTPCapabilities()
        if implicit {
            state = .greeting
            return .awaitReply(.command)
        }
        state = .ehlo
        return .send([.ehlo(configuration.heloName)], .command)
    }

    /// The transport failed: nothing more can be said on this connection.
    mutating func transportFailed(_ failure: TransportFailure) -> Action {
        fail(wording(failure))
    }

    /// Closes the session politely where possible.
    mutating func quit() -> Action {
        switch state {
        case .ready:
            state = .quitting
            return .send([.quit], .quit)
        case .quitting:
            // QUIT already went out behind the last message's data: only its reply is left.
            return .awaitReply(.quit)
        case .closed:
            return .close
        default:
            // Mid-transaction (e.g. after 354) a QUIT would be taken as message text: just close.
            state = .closed(reason: "closed by the client")
            return .close
        }
    }

    // MARK: Failure

    /// Ends the session with `reason`, and tells the caller what that means where it stands.
    mutating func fail(_ reason: String, reply: SMTPReply? = nil) -> Action {
        let previous = state
        // A transaction sent ahead is lost with the connection: `beginTransaction` reports it unusable.
        sentAhead = nil
        awaitingPickup = nil
        if case .closed = previous { return .close }
        state = .closed(reason: reason)
        switch previous {
        case .idle, .greeting, .ehlo, .helo, .starttls, .tlsHandshake, .auth:
            // SPEC §4: a refused or lost connection, a timeout, a TLS or AUTH failure defers.
            return .sessionFailed(SMTPError(isPermanent: false, reason: reason, reply: reply))
        case .transaction(let progress), .messageData(let progress), .sendingData(let progress):
            return .transactionFinished(
                progress.finished(relay: configuration.relay, failure: reason, uncertain: false), closeConnection: true)
        case .dotReply(let progress):
            // The data went out but its reply never came: the relay may have taken it.
            return .transactionFinished(
                progress.finished(relay: configuration.relay, failure: reason, uncertain: true), closeConnection: true)
        case .resetting(let start):
            return .transactionFinished(start, closeConnection: true)
        case .ready, .quitting, .closed:
            return .close
        }
    }

    /// A transport failure in words that say what was going on.
    func wording(_ failure: TransportFailure) -> String {
        let awaited = awaitedDescription
        switch (failure, state) {
        case (.tls(let reason), _):
            return reason
        case (.timedOut(let seconds), .tlsHandshake):
            return "timed out after \(formatSeconds(seconds)) s during the TLS handshake"
        case (.timedOut(let seconds), .sendingData):
            return "timed out after \(formatSeconds(seconds)) s sending the message data"
        case (.timedOut(let seconds), _):
            return "timed out after \(formatSeconds(seconds)) s waiting for \(awaited)"
        case (.closed, .tlsHandshake):
            return "relay closed the connection during the TLS handshake"
        case (.closed, .sendingData):
            return "relay closed the connection while the message data was being sent"
        case (.closed(midReply: true), _):
            return "relay closed the connection in the middle of \(awaited)"
        case (.closed(midReply: false), _):
            return "relay closed the connection while waiting for \(awaited)"
        case (.badReply(let what), _):
            return "\(what) in \(awaited)"
        case (.io(let what), .tlsHandshake):
            return "\(what) during the TLS handshake"
        case (.io(let what), .sendingData):
            return "\(what) while sending the message data"
        case (.io(let what), _):
            return "\(what) while waiting for \(awaited)"
        }
    }

    private var awaitedDescription: String {
        switch state {
        case .idle, .greeting: return "the greeting"
        case .ehlo: return "the reply to EHLO"
        case .helo: return "the reply to HELO"
        case .starttls: return "the reply to STARTTLS"
        case .tlsHandshake: return "the TLS handshake"
        case .auth: return "the reply to AUTH"
        case .transaction(let progress): return "the reply to \(progress.awaitedVerb)"
        case .messageData, .sendingData: return "the message data to be sent"
        case .dotReply: return "the reply to the final dot"
        case .resetting: return "the reply to RSET"
        case .quitting: return "the reply to QUIT"
        case .ready, .closed: return "the relay"
        }
    }
}
