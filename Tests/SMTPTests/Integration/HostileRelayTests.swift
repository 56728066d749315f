import Foundation
import MailCore
import Testing

@testable import SMTP

extension IntegrationTests {
    @Suite("Hostile and broken relays")
    struct HostileRelays {
        @Test func relayThatNeverGreetsTimesOut() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--silent"], in: dir)
            let outcome = await session(relaySettings(relay, timeout: 1), [])
            #expect(outcome.openError?.reason == "timed out after 1 s waiting for the greeting")
            #expect(outcome.openError?.isPermanent == false)
            #expect(outcome.seconds < 5)
        }

        @Test func deadlineCapsTheWholeSession() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--silent"], in: dir)
            var options = relaySettings(relay, timeout: 30)
            options.deadline = monotonicSeconds() + 1
            let outcome = await session(options, [])
            let reason = outcome.openError?.reason ?? ""
            #expect(
                reason.hasPrefix("timed out after ") && reason.hasSuffix(" s waiting for the greeting"), "\(reason)")
            #expect(outcome.seconds < 5)
        }

        @Test func implicitTLSHandshakeThatNeverHappensTimesOut() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--silent"], in: dir)
            let outcome = await session(relaySettings(relay, security: .tls, timeout: 1), [])
            #expect(outcome.openError?.reason == "timed out after 1 s during the TLS handshake")
        }

        @Test(arguments: [
            (
                "220 " + String(repeating: "x", count: 600) + "\\r\\n",
                "reply line longer than 512 octets in the greeting"
            ),
            ("hello there\\r\\n", "malformed reply line \"hello there\" in the greeting"),
            ("220-relay.test\\r\\n550 mixed\\r\\n", "multi-line reply mixes codes 220 and 550 in the greeting"),
            ("421 4.3.2 too busy\\r\\n", "relay refused the session: 421 4.3.2 too busy"),
            ("554 5.7.1 go away\\r\\n", "relay refused the session: 554 5.7.1 go away"),
        ])
        func badGreetingsFailWithAPreciseReason(_ greeting: String, _ reason: String) async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--greeting", greeting], in: dir)
            let outcome = await session(relaySettings(relay, timeout: 5), [])
            #expect(outcome.openError?.reason == reason)
            #expect(outcome.openError?.isPermanent == false)
            #expect(outcome.seconds < 4)
        }

        @Test(arguments: [
            ("220-relay.test\\r\\n220-still", "relay closed the connection in the middle of the greeting"),
            ("", "relay closed the connection while waiting for the greeting"),
            ("220 hi\\r\\n", "relay closed the connection while waiting for the reply to EHLO"),
        ])
        func relayThatClosesEarly(_ greeting: String, _ reason: String) async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--greeting", greeting, "--close-after-greeting"], in: dir)
            let outcome = await session(relaySettings(relay, timeout: 5), [])
            #expect(outcome.openError?.reason == reason)
        }

        @Test func refusedConnectionNamesTheAddress() async throws {
            let dir = try TemporaryDirectory()
            var port = 0
            do {
                let relay = try RelayProcess([], in: dir)
                port = relay.port
            }  // stopped: nothing listens there now
            let options = SMTPClientOptions(
                relay: RelaySettings(host: "127.0.0.1", port: port, timeout: 5), heloName: "client.test")
            let outcome = await session(options, [])
            #expect(outcome.openError?.reason == "connection refused by 127.0.0.1:\(port)")
        }

        @Test func everyAddressIsTriedInTurn() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)  // 127.0.0.1 only: [::1] refuses
            let addresses =
                try AddressResolver.resolve(host: "::1", port: relay.port, deadline: monotonicSeconds() + 5)
                + AddressResolver.resolve(host: "127.0.0.1", port: relay.port, deadline: monotonicSeconds() + 5)
            #expect(addresses.map(\.description) == ["[::1]:\(relay.port)", "127.0.0.1:\(relay.port)"])
            let connected = try TCPConnector.connect(to: addresses, timeout: 5, deadline: nil)
            #expect(connected.address.description == "127.0.0.1:\(relay.port)")
            connected.socket.close()

            do {
                _ = try TCPConnector.connect(
                    to: Array(addresses.prefix(1)) + addresses.prefix(1), timeout: 5, deadline: nil)
                Issue.record("connected to a port nothing listens on")
            } catch {
                let v6 = "[::1]:\(relay.port)"
                #expect(
                    error.reason.hasSuffix(v6) && error.reason.components(separatedBy: "; ").count == 2,
                    "\(error.reason)")
            }
        }

        @Test func hostileSessionsLeakNoDescriptor() async throws {
            let dir = try TemporaryDirectory()
            let certs = try TestCertificates(in: dir)
            let silent = try RelayProcess(["--silent"], in: dir)
            let garbage = try RelayProcess(["--greeting", "220-x\\r\\n" + String(repeating: "y", count: 700)], in: dir)
            let dropper = try RelayProcess(["--drop-after-data"], in: dir)
            let mismatch = try RelayProcess(
                ["--security", "tls", "--cert", certs.otherHost.cert, "--key", certs.otherHost.key], in: dir)
            let refusedPort: Int
            do { refusedPort = try RelayProcess([], in: dir).port }
            let ports: Set = [silent.port, garbage.port, dropper.port, mismatch.port, refusedPort]
            // Sockets of other suites running in this process at the same time are not ours to count.
            let baseline = leakableSockets(ports: ports)
            let message = OutgoingMessage(to: ["a@example.com"], data: sampleMessage)
            let outcomes = [
                await session(relaySettings(silent, timeout: 1), []),
                await session(relaySettings(silent, security: .tls, timeout: 1), []),
                await session(relaySettings(garbage, timeout: 5), []),
                await session(relaySettings(dropper, timeout: 5), [message, message]),
                await session(relaySettings(mismatch, host: "localhost", security: .tls, caFile: certs.caFile), []),
                await session(
                    SMTPClientOptions(
                        relay: RelaySettings(host: "127.0.0.1", port: refusedPort, timeout: 5), heloName: "client.test"
                    ), []),
            ]
            #expect(outcomes.filter { $0.openError != nil }.count == 5)
            #expect(outcomes[3].results.first?.uncertain == true)
            #expect(outcomes[3].results.last?.error?.hasPrefix("connection is not usable: ") == true)
            #expect(await settledLeakableSocketCount(ports: ports, baseline: baseline) == 0)
        }

        @Test func closingAConnectionTwiceAndReleasingItAreSafe() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let options = relaySettings(relay)
            let baseline = leakableSockets(ports: [relay.port])
            let usable = await onThread { () -> [Bool] in
                guard let connection = try? SMTPConnection.open(options, logger: testLogger()) else { return [] }
                let first = connection.isUsable
                connection.close()
                connection.close()
                let after = connection.isUsable
                let late = connection.send(Envelope(sender: "", recipients: ["a@x"], size: 1), data: [0x78])
                // A connection released without close() is closed by its deinit.
                _ = try? SMTPConnection.open(options, logger: testLogger())
                return [first, after, late.error?.hasPrefix("connection is not usable") == true]
            }
            #expect(usable == [true, false, true])
            #expect(await settledLeakableSocketCount(ports: [relay.port], baseline: baseline) == 0)
            #expect(try relay.commands().filter { $0 == "QUIT " }.count == 1)
        }
    }
}
