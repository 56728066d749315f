import Foundation
import MailCore
import SMTP
import Testing

extension IntegrationTests {
    @Suite("Plain TCP delivery and ESMTP extensions")
    struct PlainDelivery {
        @Test func deliversTheEnvelopeAndTheExactDataBytes() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let message = OutgoingMessage(to: ["a@example.com", "b@example.org"], data: sampleMessage)
            let outcome = await session(relaySettings(relay), [message])
            #expect(outcome.openError == nil)
            let result = try #require(outcome.results.first)
            #expect(result.error == nil && !result.uncertain)
            #expect(result.relay == "127.0.0.1:\(relay.port)")
            #expect(result.recipients.map(\.address) == ["a@example.com", "b@example.org"])
            #expect(result.summary == "delivered")
            let recorded = try relay.messages()
            #expect(recorded.count == 1)
            #expect(recorded.first?.mailFrom == "sender@example.com")
            #expect(recorded.first?.rcptTos == ["a@example.com", "b@example.org"])
            #expect(recorded.first?.data == Array(sampleMessage.utf8))  // dot-stuffed on the wire, unstuffed there
            #expect(recorded.first?.tls == false)
            #expect(recorded.first?.authUser == nil)
            #expect(outcome.transcript.contains("C: <\(sampleMessage.utf8.count) bytes of message data>"))
            #expect(outcome.transcript.contains("C: EHLO client.test"))
            #expect(outcome.transcript.contains { $0.hasPrefix("S: 250-") })
            #expect(outcome.capabilities?.enhancedStatusCodes == true)
            #expect(try relay.commands().last == "QUIT ")
        }

        @Test func severalTransactionsShareOneConnection() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let messages = (1...3).map {
                OutgoingMessage(to: ["r\($0)@example.com"], data: "Subject: \($0)\r\n\r\nbody\r\n")
            }
            let outcome = await session(relaySettings(relay), messages)
            #expect(outcome.results.map(\.summary) == ["delivered", "delivered", "delivered"])
            #expect(outcome.usableAfterMessages)
            let recorded = try relay.messages()
            #expect(recorded.map(\.rcptTos) == [["r1@example.com"], ["r2@example.com"], ["r3@example.com"]])
            #expect(Set(recorded.map(\.session)).count == 1)
            #expect(try relay.events().filter { $0.event == "connect" }.count == 1)
        }

        @Test func pipelinedTransactionsMatchEveryReplyToItsCommand() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(
                ["--pipelining", "--rcpt-reply", "b@example.com=550 5.1.1 no such user"], in: dir)
            let messages = [
                OutgoingMessage(
                    to: ["a@example.com", "b@example.com", "c@example.com"], data: "Subject: 1\r\n\r\none\r\n"),
                OutgoingMessage(to: ["b@example.com", "d@example.com"], data: "Subject: 2\r\n\r\ntwo\r\n"),
            ]
            let outcome = await session(relaySettings(relay), messages)
            #expect(outcome.capabilities?.pipelining == true)
            let first = outcome.results[0].recipients.map(\.disposition)
            #expect(first.count == 3)
            #expect(first[1] == .failed("550 5.1.1 no such user"))
            #expect(first[0].isDelivered && first[2].isDelivered)
            let second = outcome.results[1].recipients.map(\.disposition)
            #expect(second[0] == .failed("550 5.1.1 no such user") && second[1].isDelivered)
            #expect(try relay.messages().map(\.rcptTos) == [["a@example.com", "c@example.com"], ["d@example.com"]])
            // The whole envelope went out before the first reply was read: one write per group.
            let lines = outcome.transcript
            let mail = try #require(lines.firstIndex { $0.hasPrefix("C: MAIL FROM:") })
            #expect(
                Array(lines[mail...].prefix(5)) == [
                    "C: MAIL FROM:<sender@example.com>", "C: RCPT TO:<a@example.com>", "C: RCPT TO:<b@example.com>",
                    "C: RCPT TO:<c@example.com>", "C: DATA",
                ])
        }

        @Test func withoutPipeliningEachCommandWaitsForItsReply() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let outcome = await session(relaySettings(relay), [OutgoingMessage(to: ["a@example.com"], data: "x\r\n")])
            let lines = outcome.transcript
            let mail = try #require(lines.firstIndex { $0.hasPrefix("C: MAIL FROM:") })
            #expect(lines[mail + 1].hasPrefix("S: 250"))
            #expect(lines[mail + 2] == "C: RCPT TO:<a@example.com>")
        }

        @Test func oneRefusedRecipientOfTwo() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--rcpt-reply", "nobody@example.com=550 5.1.1 no such user"], in: dir)
            let message = OutgoingMessage(to: ["nobody@example.com", "ok@example.com"], data: sampleMessage)
            let result = try #require(await session(relaySettings(relay), [message]).results.first)
            #expect(result.recipients[0].disposition == .failed("550 5.1.1 no such user"))
            #expect(result.recipients[1].disposition.isDelivered)
            #expect(result.summary == "partial")
            #expect(try relay.messages().map(\.rcptTos) == [["ok@example.com"]])
        }

        @Test func refusedDataIsResetAndTheNextTransactionSucceeds() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--data-replies", "451 4.3.0 try later"], in: dir)
            let messages = [
                OutgoingMessage(to: ["a@example.com"], data: "Subject: 1\r\n\r\none\r\n"),
                OutgoingMessage(to: ["a@example.com"], data: "Subject: 2\r\n\r\ntwo\r\n"),
            ]
            let outcome = await session(relaySettings(relay), messages)
            #expect(outcome.results[0].recipients.map(\.disposition) == [.deferred("451 4.3.0 try later")])
            #expect(outcome.results[0].error == "451 4.3.0 try later")
            #expect(outcome.results[1].summary == "delivered")
            let commands = try relay.commands()
            #expect(commands.contains("RSET "))
            #expect(try relay.messages().map(\.data) == [Array("Subject: 2\r\n\r\ntwo\r\n".utf8)])
            #expect(try relay.events().filter { $0.event == "connect" }.count == 1)
        }

        @Test func closingReplyToMailDefersAndEndsTheConnection() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--mail-replies", "421 4.3.2 bye"], in: dir)
            let messages = [
                OutgoingMessage(to: ["a@example.com", "b@example.com"], data: sampleMessage),
                OutgoingMessage(to: ["c@example.com"], data: sampleMessage),
            ]
            let outcome = await session(relaySettings(relay), messages)
            #expect(
                outcome.results[0].recipients.map(\.disposition) == [
                    .deferred("421 4.3.2 bye"), .deferred("421 4.3.2 bye"),
                ])
            #expect(outcome.results[1].error == "connection is not usable: 421 4.3.2 bye")
            #expect(!outcome.usableAfterMessages)
            #expect(try relay.messages().isEmpty)
            #expect(try !relay.commands().contains("RCPT TO:<a@example.com>"))
        }

        @Test func connectionDroppedAfterTheDataIsUncertain() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--drop-after-data"], in: dir)
            let message = OutgoingMessage(to: ["a@example.com"], data: sampleMessage)
            let outcome = await session(relaySettings(relay), [message])
            let result = try #require(outcome.results.first)
            #expect(result.uncertain)
            #expect(result.error == "relay closed the connection while waiting for the reply to the final dot")
            #expect(
                outcome.transcript.contains(
                    "-- deferred: relay closed the connection while waiting for the reply to the final dot"
                        + " (uncertain: the relay may have accepted the message)"))
            #expect(result.summary == "deferred")
        }

        @Test func finalDotReplyThatNeverComesTimesOutAsUncertain() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--hang-after-data"], in: dir)
            var options = relaySettings(relay)
            options.finalReplyTimeout = 1
            let outcome = await session(options, [OutgoingMessage(to: ["a@example.com"], data: sampleMessage)])
            let result = try #require(outcome.results.first)
            #expect(result.uncertain)
            #expect(result.error == "timed out after 1 s waiting for the reply to the final dot")
            #expect(outcome.seconds < 8)
        }

        @Test func messageOverTheSizeLimitFailsBeforeMail() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--size", "100"], in: dir)
            let big = OutgoingMessage(to: ["a@example.com"], data: String(repeating: "x", count: 150) + "\r\n")
            let small = OutgoingMessage(to: ["a@example.com"], data: "small\r\n")
            let outcome = await session(relaySettings(relay), [big, small])
            #expect(outcome.capabilities?.sizeLimit == 100)
            let reason = "message of 152 octets exceeds the relay's size limit of 100 octets"
            #expect(outcome.results[0].recipients.map(\.disposition) == [.failed(reason)])
            #expect(outcome.results[1].summary == "delivered")
            let mails = try relay.commands().filter { $0.hasPrefix("MAIL") }
            #expect(mails == ["MAIL FROM:<sender@example.com> SIZE=7"])
            #expect(try relay.messages().first?.mailOptions == ["SIZE=7"])
        }

        @Test func internationalAddressNeedsSMTPUTF8() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let outcome = await session(
                relaySettings(relay), [OutgoingMessage(to: ["josé@example.com"], data: "x\r\n")])
            #expect(
                outcome.results.first?.recipients.map(\.disposition)
                    == [.failed("relay does not support SMTPUTF8, needed for <josé@example.com>")])
            #expect(try relay.commands().filter { $0.hasPrefix("MAIL") }.isEmpty)
        }

        @Test func smtputf8IsUsedWhenOffered() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--smtputf8"], in: dir)
            let body = "Subject: olá\r\n\r\nJosé\r\n"
            let outcome = await session(relaySettings(relay), [OutgoingMessage(to: ["josé@example.com"], data: body)])
            #expect(outcome.results.first?.summary == "delivered")
            let recorded = try #require(try relay.messages().first)
            #expect(recorded.rcptTos == ["josé@example.com"])
            #expect(recorded.mailOptions.contains("SMTPUTF8"))
            #expect(recorded.mailOptions.contains("BODY=8BITMIME"))
            #expect(recorded.data == Array(body.utf8))
        }

        @Test func eightBitDataIsDeclaredOnlyWhenPresent() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess([], in: dir)
            let messages = [
                OutgoingMessage(to: ["a@example.com"], data: "Subject: x\r\n\r\ncafé\r\n"),
                OutgoingMessage(to: ["a@example.com"], data: "Subject: x\r\n\r\ncafe\r\n"),
            ]
            _ = await session(relaySettings(relay), messages)
            #expect(try relay.messages().map(\.mailOptions) == [["BODY=8BITMIME"], []])
        }

        @Test func relayWithoutEHLOGetsHELO() async throws {
            let dir = try TemporaryDirectory()
            let relay = try RelayProcess(["--no-ehlo"], in: dir)
            let outcome = await session(relaySettings(relay), [OutgoingMessage(to: ["a@example.com"], data: "x\r\n")])
            #expect(outcome.results.first?.summary == "delivered")
            #expect(outcome.capabilities == SMTPCapabilities())
            let commands = try relay.commands()
            #expect(commands.prefix(2) == ["EHLO client.test", "HELO client.test"])
        }
    }
}

extension RecipientDisposition {
    var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }
}
