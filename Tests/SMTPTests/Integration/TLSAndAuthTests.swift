import Foundation
import MailCore
import SMTP
import Testing

/// How a test relay and client authenticate.
enum AuthMode: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case none, plain, login

    var testDescription: String { rawValue }
}

extension IntegrationTests {
    @Suite("STARTTLS, implicit TLS, certificates and AUTH")
    struct TLSAndAuth {
        static let user = "mailer@example.com"
        static let password = "S3cret pass"

        /// A relay of `security` presenting `certificate`, requiring AUTH with only `auth`'s mechanism.
        private func relay(
            _ security: TransportSecurity, _ auth: AuthMode, certificate: (cert: String, key: String)?,
            extra: [String] = [], in dir: TemporaryDirectory
        ) throws -> RelayProcess {
            var arguments = ["--security", security.rawValue] + extra
            if let certificate { arguments += ["--cert", certificate.cert, "--key", certificate.key] }
            if auth != .none {
                arguments += [
                    "--auth", "\(Self.user):\(Self.password)", "--auth-mechanisms", auth.rawValue.uppercased(),
                ]
                if security == .none { arguments.append("--auth-plaintext") }
            }
            return try RelayProcess(arguments, in: dir)
        }

        @Test(arguments: [TransportSecurity.none, .starttls, .tls], AuthMode.allCases)
        func deliversInEveryModeWithEveryMechanism(_ security: TransportSecurity, _ auth: AuthMode) async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(security, auth, certificate: security == .none ? nil : certs.server, in: dir)
            let options = relaySettings(
                relay, host: "localhost", security: security, auth: auth == .none ? nil : (Self.user, Self.password),
                caFile: certs.caFile, allowPlaintextAuth: security == .none)
            let capture = LogCapture()
            let outcome = await session(
                options, [OutgoingMessage(to: ["a@example.com"], data: sampleMessage)],
                logger: testLogger(capture))
            #expect(outcome.openError == nil, "\(outcome.transcript)")
            #expect(outcome.results.first?.summary == "delivered")
            let recorded = try #require(try relay.messages().first)
            #expect(recorded.data == Array(sampleMessage.utf8))
            #expect(recorded.tls == (security != .none))
            #expect(recorded.authUser == (auth == .none ? nil : Self.user))
            let events = try relay.events()
            let authEvents = events.filter { $0.verb == "AUTH" }
            #expect(authEvents.map(\.argument) == (auth == .none ? [] : [auth.rawValue.uppercased()]))
            if security != .none {
                // No AUTH (nor anything after EHLO but STARTTLS) went out before TLS was up.
                #expect(authEvents.allSatisfy { $0.tls == true })
                #expect(events.filter { $0.verb == "MAIL" }.allSatisfy { $0.tls == true })
                #expect(outcome.transcript.contains { $0.hasPrefix("-- TLS established: TLSv1.") })
                #expect(outcome.transcript.contains { $0.contains("certificate verified for localhost") })
                #expect(events.filter { $0.event == "sni" }.map(\.serverName) == ["localhost"])
            }
            if security == .starttls {
                #expect(events.compactMap(\.verb).prefix(3) == ["EHLO", "STARTTLS", "EHLO"])
            }
            assertNoSecret(outcome.transcript + capture.lines)
            if auth == .plain { #expect(outcome.transcript.contains("C: AUTH PLAIN ********")) }
            if auth == .login { #expect(outcome.transcript.filter { $0 == "C: ********" }.count == 2) }
        }

        /// Neither the password nor any base64 form of it (LOGIN's, PLAIN's payload) appears.
        private func assertNoSecret(_ lines: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let plain = Data([0] + Array(Self.user.utf8) + [0] + Array(Self.password.utf8)).base64EncodedString()
            let login = Data(Self.password.utf8).base64EncodedString()
            for line in lines {
                #expect(
                    !line.contains(Self.password) && !line.contains(plain) && !line.contains(login),
                    "secret in \(line)", sourceLocation: sourceLocation)
            }
        }

        @Test func ipLiteralIsVerifiedAgainstTheCertificatesIPAddress() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.tls, .none, certificate: certs.server, in: dir)
            let options = relaySettings(relay, host: "127.0.0.1", security: .tls, caFile: certs.caFile)
            let outcome = await session(options, [OutgoingMessage(to: ["a@example.com"], data: "x\r\n")])
            #expect(outcome.openError == nil)
            #expect(outcome.results.first?.summary == "delivered")
            // RFC 6066 §3: no SNI for an address literal.
            let sni = try relay.events().filter { $0.event == "sni" }
            #expect(sni.count == 1 && sni.first?.serverName == nil)
        }

        @Test(arguments: [TransportSecurity.starttls, .tls])
        func hostnameMismatchIsRefused(_ security: TransportSecurity) async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(security, .plain, certificate: certs.otherHost, in: dir)
            let options = relaySettings(
                relay, host: "localhost", security: security, auth: (Self.user, Self.password), caFile: certs.caFile)
            let outcome = await session(options, [])
            #expect(outcome.openError?.reason == "certificate verify failed: hostname mismatch (localhost)")
            #expect(outcome.openError?.isPermanent == false)
            let verbs = try relay.events().compactMap(\.verb)
            #expect(!verbs.contains("AUTH") && !verbs.contains("MAIL"))
        }

        @Test func ipAddressMismatchIsRefused() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.tls, .none, certificate: certs.otherHost, in: dir)
            let options = relaySettings(relay, host: "127.0.0.1", security: .tls, caFile: certs.caFile)
            let outcome = await session(options, [])
            #expect(outcome.openError?.reason == "certificate verify failed: IP address mismatch (127.0.0.1)")
        }

        @Test func selfSignedCertificateIsUntrustedUnlessVerificationIsOff() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.starttls, .login, certificate: certs.selfSigned, in: dir)
            let strict = relaySettings(relay, host: "localhost", security: .starttls, auth: (Self.user, Self.password))
            let refused = await session(strict, [])
            #expect(refused.openError?.reason == "certificate verify failed: self-signed certificate")
            #expect(try !relay.events().contains { $0.verb == "AUTH" })

            let lax = relaySettings(
                relay, host: "localhost", security: .starttls, auth: (Self.user, Self.password), tlsVerify: false)
            let accepted = await session(lax, [OutgoingMessage(to: ["a@example.com"], data: "x\r\n")])
            #expect(accepted.openError == nil)
            #expect(accepted.results.first?.summary == "delivered")
            #expect(accepted.transcript.contains { $0.contains("certificate NOT verified (tls_verify = false)") })
            #expect(try relay.messages().first?.tls == true)
        }

        @Test func privateCAIsNotTrustedWithoutCAFile() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.tls, .none, certificate: certs.server, in: dir)
            let outcome = await session(relaySettings(relay, host: "localhost", security: .tls), [])
            #expect(outcome.openError?.reason == "certificate verify failed: unable to get local issuer certificate")
        }

        @Test func unreadableCAFileIsReported() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.tls, .none, certificate: certs.server, in: dir)
            let options = relaySettings(relay, host: "localhost", security: .tls, caFile: dir.file("missing.pem"))
            let reason = await session(options, []).openError?.reason ?? ""
            #expect(reason.hasPrefix("cannot load ca_file \(dir.file("missing.pem")): "), "\(reason)")
        }

        @Test func missingSTARTTLSFailsWithoutPlaintextFallback() async throws {
            let dir = try TemporaryDirectory()
            // Offers AUTH in plaintext: a client that fell back would send its credentials now.
            let relay = try relay(.none, .plain, certificate: nil, in: dir)
            let options = relaySettings(
                relay, host: "localhost", security: .starttls, auth: (Self.user, Self.password),
                allowPlaintextAuth: true)
            let outcome = await session(options, [OutgoingMessage(to: ["a@example.com"], data: "x\r\n")])
            #expect(outcome.openError?.reason == "relay does not offer STARTTLS")
            #expect(outcome.openError?.isPermanent == false)
            #expect(try relay.commands() == ["EHLO client.test"])
        }

        @Test func linesInjectedBeforeTheHandshakeAreDiscarded() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(
                .starttls, .plain, certificate: certs.server, extra: ["--inject-after-starttls"], in: dir)
            let options = relaySettings(
                relay, host: "localhost", security: .starttls, auth: (Self.user, Self.password), caFile: certs.caFile)
            let outcome = await session(options, [OutgoingMessage(to: ["a@example.com"], data: sampleMessage)])
            #expect(outcome.openError == nil, "\(outcome.transcript)")
            #expect(outcome.results.first?.summary == "delivered")
            #expect(
                outcome.transcript.contains {
                    $0.hasPrefix("-- discarded ") && $0.hasSuffix(" bytes received before the TLS handshake")
                })
            #expect(!outcome.transcript.contains { $0.contains("forged") })
            #expect(try relay.messages().first?.authUser == Self.user)
        }

        @Test func credentialsAreNotSentInPlaintextUnlessAllowed() async throws {
            let dir = try TemporaryDirectory()
            let relay = try relay(.none, .plain, certificate: nil, in: dir)
            let options = relaySettings(relay, security: .none, auth: (Self.user, Self.password))
            let outcome = await session(options, [])
            #expect(outcome.openError?.reason == "refusing to send credentials over an unencrypted connection")
            #expect(try !relay.events().contains { $0.verb == "AUTH" })
        }

        @Test(arguments: [AuthMode.plain, .login])
        func wrongPasswordDefersWithTheRelaysReply(_ mode: AuthMode) async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let relay = try relay(.tls, mode, certificate: certs.server, in: dir)
            let options = relaySettings(
                relay, host: "localhost", security: .tls, auth: (Self.user, "wrong " + Self.password),
                caFile: certs.caFile)
            let capture = LogCapture()
            let outcome = await session(options, [], logger: testLogger(capture))
            let error = try #require(outcome.openError)
            #expect(error.reason == "authentication failed: 535 5.7.8 Authentication credentials invalid")
            #expect(error.reply?.code == 535 && error.reply?.enhancedCode == "5.7.8")
            #expect(!error.isPermanent)
            #expect(!error.description.contains("wrong"))
            #expect(!(outcome.transcript + capture.lines).contains { $0.contains("wrong " + Self.password) })
        }

        @Test func authRequiredButNotOffered() async throws {
            let dir = try TemporaryDirectory()
            // aiosmtpd offers AUTH in plaintext only with --auth-plaintext.
            let relay = try RelayProcess([], in: dir)
            let options = relaySettings(relay, auth: (Self.user, Self.password), allowPlaintextAuth: true)
            let outcome = await session(options, [])
            #expect(outcome.openError?.reason == "relay does not offer AUTH")
            #expect(outcome.openError?.isPermanent == false)
            #expect(try relay.commands() == ["EHLO client.test"])
        }

        @Test func implicitTLSAgainstAPlaintextRelayFailsTheHandshake() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let reason = await session(relaySettings(relay, security: .tls), []).openError?.reason ?? ""
            #expect(reason.hasPrefix("TLS handshake failed: "), "\(reason)")
        }
    }
}
