import Logging
import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SMTP session with a relay, carried out over a blocking-by-`poll` socket.
///
/// Call it only from a dedicated thread, never from Swift's cooperative pool: every method blocks
/// for up to the relay timeout (the final-dot reply up to `finalReplyTimeout`). One thread at a time.
public final class SMTPConnection {
    let options: SMTPClientOptions
    let logger: Logger
    /// Whether lines go to the trace log: asked once, as asking the logger costs more than a reply's parse.
    private let tracing: Bool
    let transcript: Transcript?
    var machine: SessionStateMachine
    var transport: (any Transport)?
    var parser = SMTPReplyParser()
    /// The message data of the transaction being finished, while `.sendMessageData` is performed.
    var pendingData: [UInt8]?
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 1)

    /// The password's forms on the wire, masked in every reply (see `SMTPCommand.secretForms`).
    private let secrets: [String]

    private func masked(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) { text = text.replacing(secret, with: "********") }
        return text
    }

    private init(options: SMTPClientOptions, logger: Logger, transcript: Transcript?, socket: Socket) {
        self.options = options
        self.logger = logger
        tracing = logger.logLevel <= .trace
        self.transcript = transcript
        parser.keepsRawLines = transcript != nil || tracing
        self.transport = PlainTransport(socket: socket)
        let relay = options.relay
        secrets = relay.auth ? SMTPCommand.secretForms(username: relay.username, password: relay.password) : []
        machine = SessionStateMachine(
            configuration: .init(
                relay: relay.endpoint, security: relay.security, heloName: Self.heloName(options.heloName),
                credentials: relay.auth ? .init(username: relay.username, password: relay.password) : nil,
                allowPlaintextAuth: relay.allowPlaintextAuth, sessionNumber: Self.sessions.next()))
    }

    private static let sessions = SessionCounter()

    deinit {
        transport?.close()
        readBuffer.deallocate()
    }

    /// Connects and opens the session: resolves the host, tries each address, reads the greeting,
    /// EHLO (HELO when EHLO is unknown), STARTTLS or implicit TLS with certificate checks, EHLO
    /// again, AUTH. Throws a temporary `SMTPError` with a reason a person can act on.
    public static func open(_ options: SMTPClientOptions, logger: Logger, transcript: Transcript? = nil)
        throws(SMTPError) -> SMTPConnection
    {
        var logger = logger
        logger[metadataKey: "relay"] = "\(options.relay.endpoint)"
        let relay = options.relay
        transcript?.append("-- connecting to \(relay.endpoint) (security: \(relay.security.rawValue))")
        let socket: Socket
        do {
            let lookupDeadline = min(monotonicSeconds() + Double(relay.timeout), options.deadline ?? .infinity)
            let addresses = try AddressResolver.resolve(host: relay.host, port: relay.port, deadline: lookupDeadline)
            let connected = try TCPConnector.connect(
                to: addresses, timeout: Double(relay.timeout), deadline: options.deadline)
            socket = connected.socket
            transcript?.append("-- connected to \(connected.address)")
            logger.debug("smtp connected", metadata: ["address": "\(connected.address)"])
        } catch {
            transcript?.append("-- \(error.reason)")
            logger.debug("smtp connect failed", metadata: ["reason": "\(error.reason)"])
            var failure = SMTPError(reason: error.reason)
            failure.isLocal = error.isLocal
            throw failure
        }
        let connection = SMTPConnection(options: options, logger: logger, transcript: transcript, socket: socket)
        let outcome = connection.drive(connection.machine.start())
        switch outcome {
        case .sessionReady:
            logger.debug(
                "smtp session ready",
                metadata: ["tls": "\(connection.machine.isEncrypted)", "auth": "\(relay.auth)"])
            return connection
        case .sessionFailed(let error):
            connection.record("-- \(error.reason)")
            logger.debug("smtp session failed", metadata: ["reason": "\(error.reason)"])
            throw error
        default:
            connection.closeTransport()
            throw SMTPError(reason: "internal error: unexpected \(outcome) while opening the session")
        }
    }

    /// Whether more transactions can be sent: false after a 421, a lost connection, a timeout or a
    /// protocol error, and after `close()`.
    public var isUsable: Bool { transport != nil && machine.isUsable }

    /// What the relay offered in its last EHLO (after TLS, the EHLO after the handshake).
    public var capabilities: SMTPCapabilities { machine.capabilities }

    /// Ends the session: QUIT (best effort, a short wait for its reply; sent already when the last
    /// transaction was finished with `thenQuit`) and close. Idempotent.
    public func close() {
        guard transport != nil else { return }
        _ = drive(machine.quit())
        closeTransport()
        logger.debug("smtp closed")
    }

    // MARK: Carrying out the machine's actions

    /// Performs actions until one needs the caller: the session is ready or failed, a transaction
    /// is ready for its data or finished, or the connection is to be closed.
    func drive(_ first: SessionStateMachine.Action) -> SessionStateMachine.Action {
        var action = first
        while true {
            switch action {
            case .send(let commands, let wait):
                action = send(commands, then: wait)
            case .awaitReply(let wait):
                action = awaitReply(wait)
            case .startTLS:
                action = startTLS()
            case .sendMessageData(let commands):
                action = sendMessageData(then: commands)
            case .sessionReady, .transactionReady, .transactionFinished(_, closeConnection: false):
                return action
            case .sessionFailed, .transactionFinished(_, closeConnection: true), .close:
                closeTransport()
                return action
            }
        }
    }

    private func send(_ commands: [SMTPCommand], then wait: SessionStateMachine.ReplyWait)
        -> SessionStateMachine.Action
    {
        guard let transport else { return machine.transportFailed(.io("connection already closed")) }
        // One write for the whole group: with PIPELINING that is MAIL, every RCPT and DATA.
        var bytes: [UInt8] = []
        for command in commands {
            bytes += command.wire
            record(command.transcriptLine)
        }
        do {
            try transport.write(bytes, stallTimeout: Double(options.relay.timeout), deadline: options.deadline)
        } catch {
            return machine.transportFailed(failure(error, waited: Double(options.relay.timeout)))
        }
        return awaitReply(wait)
    }

    private func awaitReply(_ wait: SessionStateMachine.ReplyWait) -> SessionStateMachine.Action {
        guard let transport else { return machine.transportFailed(.io("connection already closed")) }
        let seconds: Double
        switch wait {
        case .command: seconds = Double(options.relay.timeout)
        case .finalDot: seconds = options.finalReplyTimeout
        case .quit: seconds = min(Double(options.relay.timeout), 5)
        }
        let started = monotonicSeconds()
        let deadline = min(started + seconds, options.deadline ?? .infinity)
        while true {
            do {
                if let parsed = try parser.nextReply() {
                    guard !secrets.isEmpty else {
                        for line in parsed.rawLines { record("S: " + line) }
                        return machine.replyReceived(parsed.reply)
                    }
                    // A relay that quotes the AUTH payload back (a "535 … for AUTH PLAIN <payload>") must not
                    // put the password into the transcript, the log, last_error or show.
                    var reply = parsed.reply
                    reply.lines = reply.lines.map(masked)
                    for line in parsed.rawLines { record("S: " + masked(line)) }
                    return machine.replyReceived(reply)
                }
            } catch {
                return machine.transportFailed(.badReply(error.description))
            }
            do {
                let count = try transport.read(into: readBuffer, deadline: deadline)
                if count == 0 { return closedByRelay() }
                parser.append(UnsafeRawBufferPointer(rebasing: readBuffer[..<count]))
            } catch .closed {
                return closedByRelay()
            } catch {
                // What was waited: less than the timeout when the stop's WaitLimit cut it short.
                let waited = min(max(deadline - started, 0), monotonicSeconds() - started)
                return machine.transportFailed(failure(error, waited: waited))
            }
        }
    }

    private func closedByRelay() -> SessionStateMachine.Action {
        machine.transportFailed(.closed(midReply: parser.hasPartialReply))
    }

    private func startTLS() -> SessionStateMachine.Action {
        guard let plain = transport as? PlainTransport else {
            return machine.transportFailed(.tls("TLS requested on a connection that is not plain TCP"))
        }
        // RFC 3207 §6: anything the relay sent before the handshake may have been injected by an
        // attacker (it arrived in plaintext); none of it may be read as a reply inside TLS.
        let dropped = parser.discardBuffered() + plain.socket.discardPending()
        if dropped > 0 {
            record("-- discarded \(dropped) bytes received before the TLS handshake")
            logger.debug("smtp discarded plaintext before TLS", metadata: ["bytes": "\(dropped)"])
        }
        let relay = options.relay
        let started = monotonicSeconds()
        let deadline = min(started + Double(relay.timeout), options.deadline ?? .infinity)
        do {
            let context = try TLSContextCache.shared.context(verify: relay.tlsVerify, caFile: relay.caFile)
            let tls = try TLSTransport(socket: plain.socket, context: context, host: relay.host)
            transport = tls
            let description = try tls.handshake(deadline: deadline)
            let verification =
                relay.tlsVerify
                ? "certificate verified for \(relay.host)" : "certificate NOT verified (tls_verify = false)"
            record("-- TLS established: \(description), \(verification)")
            logger.debug("smtp TLS established", metadata: ["tls": "\(description)", "verified": "\(relay.tlsVerify)"])
            return machine.tlsEstablished()
        } catch {
            let waited = min(max(deadline - started, 0), monotonicSeconds() - started)
            return machine.transportFailed(failure(error, waited: waited))
        }
    }

    private func sendMessageData(then commands: [SMTPCommand]) -> SessionStateMachine.Action {
        guard let transport else { return machine.transportFailed(.io("connection already closed")) }
        let data = pendingData ?? []
        // RFC 5321 §4.5.2: dot-stuffed here, on the wire; one write for the whole message.
        var wire = DotStuffing.encode(data)
        record("C: <\(data.count) bytes of message data>")
        for command in commands {
            wire += command.wire
            record(command.transcriptLine)
        }
        do {
            try transport.write(wire, stallTimeout: Double(options.relay.timeout), deadline: options.deadline)
        } catch {
            return machine.transportFailed(failure(error, waited: Double(options.relay.timeout)))
        }
        return machine.messageDataSent()
    }

    func closeTransport() {
        transport?.close()
        transport = nil
    }

    /// Adds a line to the transcript and the trace log; built only when one of them wants it.
    func record(_ line: @autoclosure () -> String) {
        guard transcript != nil || tracing else { return }
        let text = line()
        transcript?.append(text)
        logger.trace("\(text)")
    }

    private func failure(_ error: TransportError, waited: Double) -> SessionStateMachine.TransportFailure {
        switch error {
        case .timedOut: return .timedOut(seconds: waited)
        case .closed: return .closed(midReply: parser.hasPartialReply)
        case .io(let what): return .io(what)
        case .tls(let what): return .tls(what)
        }
    }

    /// The EHLO name: the configured one, else this host's name (SPEC §2.1 `helo_name = ""`).
    static func heloName(_ configured: String) -> String {
        let isValid = { (name: String) in
            !name.isEmpty && !name.unicodeScalars.contains { $0.value <= 0x20 || $0.value >= 0x7F }
        }
        if isValid(configured) { return configured }
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count) == 0 {
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if isValid(name) { return name }
        }
        return "localhost"
    }
}
