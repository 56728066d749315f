import MailCore
import Testing

@testable import SMTP

@Suite("State machine: greeting, EHLO/HELO, STARTTLS, TLS, AUTH")
struct HandshakeMachineTests {
    typealias F = Fixture

    @Test func plainSessionBecomesReady() {
        var m = F.machine()
        #expect(m.start() == .awaitReply(.command))
        #expect(m.state == .greeting)
        #expect(m.replyReceived(F.reply(220, "relay.test ESMTP")) == .send([.ehlo("client.test")], .command))
        #expect(m.state == .ehlo)
        #expect(m.replyReceived(F.ehlo("PIPELINING", "SIZE 1000")) == .sessionReady)
        #expect(m.state == .ready)
        #expect(m.isUsable)
        #expect(m.capabilities.pipelining && m.capabilities.sizeLimit == 1000)
    }

    @Test(arguments: [421, 450, 554])
    func refusedGreetingFailsTemporarily(_ code: Int) {
        var m = F.machine()
        _ = m.start()
        let error = F.sessionError(m.replyReceived(F.reply(code, "go away")))
        #expect(error?.reason == "relay refused the session: \(code) go away")
        #expect(error?.isPermanent == false)
        #expect(error?.reply?.code == code)
        #expect(!m.isUsable)
    }

    @Test func intermediateGreetingIsNonsense() {
        var m = F.machine()
        _ = m.start()
        #expect(F.sessionError(m.replyReceived(F.reply(354, "what")))?.reason == "unexpected greeting: 354 what")
    }

    @Test(arguments: [500, 502])
    func unknownEHLOFallsBackToHELO(_ code: Int) {
        var m = F.machine()
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        #expect(m.replyReceived(F.reply(code, "unrecognised")) == .send([.helo("client.test")], .command))
        #expect(m.state == .helo)
        #expect(m.replyReceived(F.reply(250, "relay.test")) == .sessionReady)
        #expect(m.capabilities == SMTPCapabilities())
    }

    @Test func refusedEHLOAndHELO() {
        var m = F.machine()
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        #expect(F.sessionError(m.replyReceived(F.reply(550, "no")))?.reason == "EHLO refused: 550 no")

        var h = F.machine()
        _ = h.start()
        _ = h.replyReceived(F.reply(220))
        _ = h.replyReceived(F.reply(502))
        #expect(F.sessionError(h.replyReceived(F.reply(501, "bad name")))?.reason == "HELO refused: 501 bad name")
    }

    @Test func starttlsUpgradesThenRepeatsEHLOAndForgetsCapabilities() {
        var m = F.machine(security: .starttls, credentials: ("user", "pw"))
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        // Before TLS: no AUTH is sent even though it is offered.
        #expect(m.replyReceived(F.ehlo("STARTTLS", "AUTH PLAIN", "PIPELINING")) == .send([.starttls], .command))
        #expect(m.replyReceived(F.reply(220, "Ready to start TLS")) == .startTLS)
        #expect(m.state == .tlsHandshake(implicit: false))
        #expect(!m.isEncrypted)
        #expect(m.tlsEstablished() == .send([.ehlo("client.test")], .command))
        #expect(m.isEncrypted)
        #expect(m.capabilities == SMTPCapabilities())
        let auth = m.replyReceived(F.ehlo("AUTH LOGIN PLAIN"))
        #expect(auth == .send([.authPlain(username: "user", password: Secret("pw"))], .command))
        #expect(!m.capabilities.pipelining)  // learned before TLS: forgotten
        #expect(m.replyReceived(F.reply(235, "2.7.0 ok")) == .sessionReady)
    }

    @Test func starttlsNotOfferedFailsWithoutPlaintextFallbackOrAuth() {
        var m = F.machine(security: .starttls, credentials: ("user", "pw"))
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        let action = m.replyReceived(F.ehlo("AUTH PLAIN LOGIN", "PIPELINING"))
        #expect(F.sessionError(action)?.reason == "relay does not offer STARTTLS")
        #expect(F.sentLines(action).isEmpty)
        #expect(!m.isUsable)
    }

    @Test func starttlsWithARelayWithoutEHLOFails() {
        var m = F.machine(security: .starttls)
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        let reason = F.sessionError(m.replyReceived(F.reply(502, "no")))?.reason
        #expect(reason == "relay does not offer STARTTLS (it does not support EHLO: 502 no)")
    }

    @Test func starttlsRefused() {
        var m = F.machine(security: .starttls)
        _ = m.start()
        _ = m.replyReceived(F.reply(220))
        _ = m.replyReceived(F.ehlo("STARTTLS"))
        let reason = F.sessionError(m.replyReceived(F.reply(454, "4.7.0 TLS not available")))?.reason
        #expect(reason == "STARTTLS refused: 454 4.7.0 TLS not available")
    }

    @Test func implicitTLSComesBeforeTheGreeting() {
        var m = F.machine(security: .tls)
        #expect(m.start() == .startTLS)
        #expect(m.state == .tlsHandshake(implicit: true))
        #expect(m.tlsEstablished() == .awaitReply(.command))
        #expect(m.state == .greeting)
        #expect(m.replyReceived(F.reply(220)) == .send([.ehlo("client.test")], .command))
        #expect(m.replyReceived(F.ehlo()) == .sessionReady)
        #expect(m.isEncrypted)
    }

    @Test func tlsFailureAndTimeoutsAreWorded() {
        var m = F.machine(security: .tls)
        _ = m.start()
        let reason = "certificate verify failed: hostname mismatch (localhost)"
        #expect(F.sessionError(m.transportFailed(.tls(reason)))?.reason == reason)

        var t = F.machine(security: .tls)
        _ = t.start()
        #expect(
            F.sessionError(t.transportFailed(.timedOut(seconds: 10)))?.reason
                == "timed out after 10 s during the TLS handshake")
    }

    private func authMachine(_ offered: String, allowPlaintext: Bool = false, security: TransportSecurity = .tls)
        -> (SessionStateMachine, SessionStateMachine.Action)
    {
        var m = F.machine(security: security, credentials: ("user", "secret"), allowPlaintextAuth: allowPlaintext)
        if security == .tls {
            _ = m.start()
            _ = m.tlsEstablished()
        } else {
            _ = m.start()
        }
        _ = m.replyReceived(F.reply(220))
        let action = m.replyReceived(F.ehlo(offered))
        return (m, action)
    }

    @Test func authPlainIsPreferredAndMasked() {
        let (_, action) = authMachine("AUTH LOGIN PLAIN")
        guard case .send(let commands, _) = action, let command = commands.first else {
            Issue.record("expected AUTH, got \(action)")
            return
        }
        // base64("\0user\0secret")
        #expect(command.line == "AUTH PLAIN AHVzZXIAc2VjcmV0")
        #expect(command.transcriptLine == "C: AUTH PLAIN ********")
        #expect(!command.description.contains("secret") && !command.description.contains("AHVzZXIAc2VjcmV0"))
    }

    @Test func authPlainSecondChanceAfterEmptyChallenge() {
        var (m, _) = authMachine("AUTH PLAIN")
        let action = m.replyReceived(F.reply(334, ""))
        #expect(F.sentLines(action) == ["AHVzZXIAc2VjcmV0"])
        #expect(m.replyReceived(F.reply(235)) == .sessionReady)
    }

    @Test func authLoginWhenOnlyLoginIsOffered() {
        var (m, first) = authMachine("AUTH LOGIN")
        #expect(first == .send([.authLogin], .command))
        let user = m.replyReceived(F.reply(334, "VXNlcm5hbWU6"))
        #expect(F.sentLines(user) == ["dXNlcg=="])
        let password = m.replyReceived(F.reply(334, "UGFzc3dvcmQ6"))
        #expect(F.sentLines(password) == ["c2VjcmV0"])
        if case .send(let commands, _) = password { #expect(commands[0].transcriptLine == "C: ********") }
        #expect(m.replyReceived(F.reply(235, "2.7.0 Authentication successful")) == .sessionReady)
    }

    @Test func authRefusedKeepsTheReplyAndDefers() {
        var (m, _) = authMachine("AUTH PLAIN")
        let error = F.sessionError(m.replyReceived(F.reply(535, "5.7.8 Authentication credentials invalid")))
        #expect(error?.reason == "authentication failed: 535 5.7.8 Authentication credentials invalid")
        #expect(error?.isPermanent == false)
        #expect(error?.reply?.code == 535)
        #expect(!m.isUsable)
    }

    @Test func authRefusedAtTheLoginPasswordStep() {
        var (m, _) = authMachine("AUTH LOGIN")
        _ = m.replyReceived(F.reply(334))
        _ = m.replyReceived(F.reply(334))
        #expect(
            F.sessionError(m.replyReceived(F.reply(454, "4.7.0 try later")))?.reason
                == "authentication failed: 454 4.7.0 try later")
    }

    @Test func authNotOfferedWhileRequired() {
        let (_, action) = authMachine("PIPELINING")
        #expect(F.sessionError(action)?.reason == "relay does not offer AUTH")
    }

    @Test func authWithOnlyUnsupportedMechanisms() {
        let (_, action) = authMachine("AUTH CRAM-MD5 XOAUTH2")
        #expect(
            F.sessionError(action)?.reason
                == "relay offers no AUTH mechanism this client supports (PLAIN, LOGIN); it offers CRAM-MD5 XOAUTH2")
    }

    @Test func noCredentialsInPlaintextUnlessAllowed() {
        let (_, refused) = authMachine("AUTH PLAIN", security: .none)
        #expect(F.sessionError(refused)?.reason == "refusing to send credentials over an unencrypted connection")
        #expect(F.sentLines(refused).isEmpty)

        let (_, allowed) = authMachine("AUTH PLAIN", allowPlaintext: true, security: .none)
        #expect(F.sentLines(allowed).first?.hasPrefix("AUTH PLAIN ") == true)
    }

    @Test func unexpectedAuthReply() {
        var (m, _) = authMachine("AUTH LOGIN")
        #expect(F.sessionError(m.replyReceived(F.reply(250, "what")))?.reason == "unexpected reply to AUTH: 250 what")
    }

    @Test func transportFailuresSayWhatWasAwaited() {
        var a = F.machine()
        _ = a.start()
        #expect(
            F.sessionError(a.transportFailed(.timedOut(seconds: 10)))?.reason
                == "timed out after 10 s waiting for the greeting")

        var b = F.machine()
        _ = b.start()
        _ = b.replyReceived(F.reply(220))
        #expect(
            F.sessionError(b.transportFailed(.closed(midReply: false)))?.reason
                == "relay closed the connection while waiting for the reply to EHLO")

        var c = F.machine()
        _ = c.start()
        #expect(
            F.sessionError(c.transportFailed(.closed(midReply: true)))?.reason
                == "relay closed the connection in the middle of the greeting")

        var d = F.machine()
        _ = d.start()
        #expect(
            F.sessionError(d.transportFailed(.badReply("reply line longer than 512 octets")))?.reason
                == "reply line longer than 512 octets in the greeting")

        var e = F.machine()
        _ = e.start()
        #expect(
            F.sessionError(e.transportFailed(.io("recv: Connection reset by peer")))?.reason
                == "recv: Connection reset by peer while waiting for the greeting")
    }

    @Test func quitFromReadyAndAfterClose() {
        var m = F.ready()
        #expect(m.quit() == .send([.quit], .quit))
        #expect(m.state == .quitting)
        #expect(m.replyReceived(F.reply(221, "Bye")) == .close)
        #expect(!m.isUsable)
        #expect(m.quit() == .close)

        var lost = F.ready()
        _ = lost.quit()
        #expect(lost.transportFailed(.timedOut(seconds: 5)) == .close)
        #expect(!lost.isUsable)
    }

    @Test func unsolicitedReplyWhenReadyClosesTheConnection() {
        var m = F.ready()
        #expect(m.replyReceived(F.reply(250, "surprise")) == .close)
        #expect(m.closedReason == "unexpected reply 250 surprise")
    }
}
