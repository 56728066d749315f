import MailCore
import Testing

@testable import SMTP

@Suite("State machine: MAIL, RCPT, DATA, the final dot, RSET")
struct TransactionMachineTests {
    typealias F = Fixture

    /// Runs a transaction whose DATA was accepted through the data and the final dot.
    private func finish(_ m: inout SessionStateMachine, _ start: TransactionStart, dot: SMTPReply)
        -> SessionStateMachine.Action
    {
        #expect(m.sendMessageData(transaction: start.transactionID, recipients: start.recipients) == .sendMessageData(then: []))
        #expect(m.state.isSendingData)
        #expect(m.messageDataSent() == .awaitReply(.finalDot))
        return m.replyReceived(dot)
    }

    @Test func oneCommandAtATimeWithoutPipelining() {
        var m = F.ready()
        let first = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        #expect(F.sentLines(first) == ["MAIL FROM:<from@example.com>"])
        #expect(F.sentLines(m.replyReceived(F.reply(250, "ok"))) == ["RCPT TO:<a@example.com>"])
        #expect(F.sentLines(m.replyReceived(F.reply(250, "ok"))) == ["RCPT TO:<b@example.com>"])
        #expect(F.sentLines(m.replyReceived(F.reply(550, "5.1.1 no such user"))) == ["DATA"])
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354, "go ahead")) else {
            Issue.record("DATA not accepted")
            return
        }
        #expect(start.dataAccepted && start.finished == nil)
        #expect(start.recipientReplies.map { $0?.code } == [250, 550])
        let done = finish(&m, start, dot: F.reply(250, "2.0.0 queued as 1"))
        #expect(F.closes(done) == false)
        #expect(F.dispositions(done) == [.delivered("250 2.0.0 queued as 1"), .failed("550 5.1.1 no such user")])
        #expect(F.result(done)?.error == nil)
        #expect(m.state == .ready)
    }

    @Test func pipeliningSendsTheWholeEnvelopeInOneWriteAndMatchesRepliesInOrder() {
        var m = F.ready("PIPELINING")
        let first = m.beginTransaction(F.envelope("a@example.com", "b@example.com", "c@example.com"))
        #expect(
            F.sentLines(first) == [
                "MAIL FROM:<from@example.com>", "RCPT TO:<a@example.com>", "RCPT TO:<b@example.com>",
                "RCPT TO:<c@example.com>", "DATA",
            ])
        #expect(m.replyReceived(F.reply(250)) == .awaitReply(.command))
        #expect(m.replyReceived(F.reply(450, "4.2.0 mailbox busy")) == .awaitReply(.command))
        #expect(m.replyReceived(F.reply(550, "5.1.1 unknown")) == .awaitReply(.command))
        #expect(m.replyReceived(F.reply(250)) == .awaitReply(.command))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else {
            Issue.record("DATA not accepted")
            return
        }
        let done = finish(&m, start, dot: F.reply(250, "ok"))
        #expect(
            F.dispositions(done) == [
                .deferred("450 4.2.0 mailbox busy"), .failed("550 5.1.1 unknown"), .delivered("250 ok"),
            ])
    }

    /// Runs a one-recipient transaction to 354 (each command answered in turn).
    private func toData(_ m: inout SessionStateMachine) -> TransactionStart? {
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else {
            Issue.record("DATA not accepted")
            return nil
        }
        return start
    }

    @Test func quitGoesOutWithTheLastDataWhenPipelining() {
        for (dot, disposition) in [
            (F.reply(250, "ok"), RecipientDisposition.delivered("250 ok")),
            (F.reply(554, "rejected"), RecipientDisposition.failed("554 rejected")),
        ] {
            var m = F.ready("PIPELINING")
            guard let start = toData(&m) else { return }
            let send = m.sendMessageData(transaction: start.transactionID, recipients: start.recipients, thenQuit: true)
            #expect(send == .sendMessageData(then: [.quit]))
            #expect(m.messageDataSent() == .awaitReply(.finalDot))
            // The dot's reply ends the transaction, with no RSET after a failure: QUIT is already out.
            let done = m.replyReceived(dot)
            #expect(F.closes(done) == false)
            #expect(F.dispositions(done) == [disposition])
            #expect(!m.isUsable)
            #expect(m.quit() == .awaitReply(.quit))
            #expect(m.replyReceived(F.reply(221, "bye")) == .close)
        }
    }

    @Test func quitWaitsForItsOwnWriteWithoutPipelining() {
        var m = F.ready()
        guard let start = toData(&m) else { return }
        let send = m.sendMessageData(transaction: start.transactionID, recipients: start.recipients, thenQuit: true)
        #expect(send == .sendMessageData(then: []))
        _ = m.messageDataSent()
        #expect(F.closes(m.replyReceived(F.reply(250, "ok"))) == false)
        #expect(m.state == .ready)
        #expect(m.quit() == .send([.quit], .quit))
    }

    /// Runs a pipelined transaction to 354 and sends its data with `next` behind it; returns the action.
    private func sendAhead(_ m: inout SessionStateMachine, _ next: Envelope) -> SessionStateMachine.Action? {
        guard let start = toData(&m) else { return nil }
        return m.sendMessageData(transaction: start.transactionID, recipients: start.recipients, thenBegin: next)
    }

    private func commandLines(_ action: SessionStateMachine.Action?) -> [String] {
        guard case .sendMessageData(let commands)? = action else { return [] }
        return commands.map(\.line)
    }

    @Test func theNextMessagesEnvelopeGoesOutBehindTheDataAndIsPickedUpByItsBegin() {
        let next = F.envelope("b@example.com", "c@example.com")
        for (dot, disposition) in [
            (F.reply(250, "ok"), RecipientDisposition.delivered("250 ok")),
            (F.reply(554, "rejected"), RecipientDisposition.failed("554 rejected")),
        ] {
            var m = F.ready("PIPELINING")
            let send = sendAhead(&m, next)
            #expect(commandLines(send) == ["MAIL FROM:<from@example.com>", "RCPT TO:<b@example.com>", "RCPT TO:<c@example.com>", "DATA"])
            #expect(m.messageDataSent() == .awaitReply(.finalDot))
            // The dot's reply ends this transaction (no RSET after a failure: the next one is under way).
            let done = m.replyReceived(dot)
            #expect(F.closes(done) == false)
            #expect(F.dispositions(done) == [disposition])
            #expect(m.isUsable)
            // A begin with another envelope cannot take the transaction sent ahead.
            #expect(F.result(m.beginTransaction(F.envelope("x@example.com")))?.error == "another transaction is in progress")
            #expect(m.beginTransaction(next) == .awaitReply(.command))
            #expect(m.replyReceived(F.reply(250)) == .awaitReply(.command))
            #expect(m.replyReceived(F.reply(250)) == .awaitReply(.command))
            #expect(m.replyReceived(F.reply(550, "5.1.1 unknown")) == .awaitReply(.command))
            guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else {
                Issue.record("the next transaction did not reach its data")
                return
            }
            #expect(start.recipients == ["b@example.com", "c@example.com"])
            #expect(start.recipientReplies.map { $0?.code } == [250, 550])
        }
    }

    @Test func aTransactionSentAheadIsLostWithTheConnectionAndReportedAsSuch() {
        var m = F.ready("PIPELINING")
        let next = F.envelope("b@example.com")
        _ = sendAhead(&m, next)
        _ = m.messageDataSent()
        let done = m.replyReceived(F.reply(421, "4.3.2 shutting down"))
        #expect(F.closes(done) == true)
        let begin = m.beginTransaction(next)
        #expect(F.result(begin)?.error == "connection is not usable: 421 4.3.2 shutting down")
        #expect(F.dispositions(begin) == [.deferred("connection is not usable: 421 4.3.2 shutting down")])

        var lost = F.ready("PIPELINING")
        _ = sendAhead(&lost, next)
        _ = lost.messageDataSent()
        #expect(F.result(lost.transportFailed(.closed(midReply: false)))?.uncertain == true)
        #expect(F.result(lost.beginTransaction(next))?.error?.hasPrefix("connection is not usable") == true)
    }

    @Test func nothingGoesAheadWithoutPipeliningOrForAMessageTheRelayCannotTake() {
        var plain = F.ready()
        #expect(commandLines(sendAhead(&plain, F.envelope("b@example.com"))).isEmpty)
        _ = plain.messageDataSent()
        _ = plain.replyReceived(F.reply(250))
        #expect(plain.state == .ready)
        #expect(F.sentLines(plain.beginTransaction(F.envelope("b@example.com"))) == ["MAIL FROM:<from@example.com>"])

        var limited = F.ready("PIPELINING", "SIZE 1000")
        #expect(commandLines(sendAhead(&limited, F.envelope("b@example.com", size: 5000))).isEmpty)
        _ = limited.messageDataSent()
        _ = limited.replyReceived(F.reply(250))
        #expect(limited.state == .ready)
    }

    @Test func refusedMailSendsNoRecipientsThenRSET() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        let refused = m.replyReceived(F.reply(550, "5.7.1 sender rejected"))
        #expect(refused == .send([.rset], .command))
        let done = m.replyReceived(F.reply(250, "flushed"))
        #expect(F.closes(done) == false)
        #expect(F.dispositions(done) == [.failed("550 5.7.1 sender rejected")])
        #expect(F.result(done)?.error == "550 5.7.1 sender rejected")
        #expect(m.state == .ready)
    }

    @Test func temporarilyRefusedMailDefers() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        _ = m.replyReceived(F.reply(451, "4.3.0 later"))
        let done = m.replyReceived(F.reply(250))
        #expect(F.dispositions(done) == [.deferred("451 4.3.0 later"), .deferred("451 4.3.0 later")])
    }

    @Test func pipelinedRefusedMailStillReadsEveryReply() {
        var m = F.ready("PIPELINING")
        _ = m.beginTransaction(F.envelope("a@example.com"))
        #expect(m.replyReceived(F.reply(550, "no")) == .awaitReply(.command))
        #expect(m.replyReceived(F.reply(503, "need MAIL")) == .awaitReply(.command))
        #expect(m.replyReceived(F.reply(503, "need RCPT")) == .send([.rset], .command))
        let done = m.replyReceived(F.reply(250))
        #expect(F.dispositions(done) == [.failed("550 no")])
    }

    @Test func everyRecipientRefusedMeansNoDataThenRSET() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(550, "a unknown"))
        #expect(m.replyReceived(F.reply(450, "b busy")) == .send([.rset], .command))
        let done = m.replyReceived(F.reply(250))
        #expect(F.dispositions(done) == [.failed("550 a unknown"), .deferred("450 b busy")])
        #expect(F.result(done)?.error == nil)
    }

    @Test(arguments: [(451, RecipientKind.deferred), (554, RecipientKind.failed)])
    func refusedDataDecidesForTheAcceptedRecipients(_ code: Int, _ kind: RecipientKind) {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        #expect(m.replyReceived(F.reply(code, "no data")) == .send([.rset], .command))
        let done = m.replyReceived(F.reply(250))
        #expect(F.dispositions(done).map(RecipientKind.init) == [kind])
        #expect(F.result(done)?.error == "\(code) no data")
    }

    @Test func refusedFinalDotIsFollowedByRSETAndTheNextTransactionWorks() {
        var m = F.ready("PIPELINING")
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        let reset = finish(&m, start, dot: F.reply(451, "4.3.0 later"))
        #expect(reset == .send([.rset], .command))
        let done = m.replyReceived(F.reply(250))
        #expect(F.dispositions(done) == [.deferred("451 4.3.0 later")])
        #expect(F.result(done)?.error == "451 4.3.0 later")
        #expect(F.result(done)?.uncertain == false)
        #expect(m.state == .ready)
        #expect(F.sentLines(m.beginTransaction(F.envelope("a@example.com"))).first == "MAIL FROM:<from@example.com>")
    }

    @Test func permanentlyRefusedFinalDot() {
        var m = F.ready("PIPELINING")
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        _ = finish(&m, start, dot: F.reply(554, "5.6.0 content rejected"))
        #expect(F.dispositions(m.replyReceived(F.reply(250))) == [.failed("554 5.6.0 content rejected")])
    }

    @Test func closingReplyToMailDefersEverythingAndCloses() {
        var m = F.ready("ENHANCEDSTATUSCODES")
        _ = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        let done = m.replyReceived(F.reply(421, "4.3.2 bye"))
        #expect(F.closes(done) == true)
        #expect(F.dispositions(done) == [.deferred("421 4.3.2 bye"), .deferred("421 4.3.2 bye")])
        #expect(F.result(done)?.error == "421 4.3.2 bye")
        #expect(!m.isUsable)
        #expect(
            F.result(m.beginTransaction(F.envelope("a@example.com")))?.error
                == "connection is not usable: 421 4.3.2 bye")
    }

    @Test func closingReplyInAPipelinedGroupKeepsDecidedRecipients() {
        var m = F.ready("PIPELINING")
        _ = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(550, "a unknown"))
        let done = m.replyReceived(F.reply(421, "closing"))
        #expect(F.closes(done) == true)
        #expect(F.dispositions(done) == [.failed("550 a unknown"), .deferred("421 closing")])
    }

    @Test func closingReplyToTheFinalDotIsNotUncertain() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        let done = finish(&m, start, dot: F.reply(421, "shutting down"))
        #expect(F.closes(done) == true)
        #expect(F.result(done)?.uncertain == false)
        #expect(F.dispositions(done) == [.deferred("421 shutting down")])
    }

    @Test func noReplyToTheFinalDotIsUncertain() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com", "b@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(550, "a unknown"))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        _ = m.sendMessageData(transaction: start.transactionID, recipients: start.recipients)
        _ = m.messageDataSent()
        let done = m.transportFailed(.timedOut(seconds: 600))
        let result = F.result(done)
        #expect(result?.uncertain == true)
        #expect(result?.error == "timed out after 600 s waiting for the reply to the final dot")
        #expect(
            F.dispositions(done) == [
                .failed("550 a unknown"), .deferred("timed out after 600 s waiting for the reply to the final dot"),
            ])
        #expect(F.closes(done) == true)
    }

    @Test func connectionLostWhileWritingTheDataIsNotUncertain() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        _ = m.sendMessageData(transaction: start.transactionID, recipients: start.recipients)
        let done = m.transportFailed(.io("send: Broken pipe"))
        #expect(F.result(done)?.uncertain == false)
        #expect(F.result(done)?.error == "send: Broken pipe while sending the message data")
    }

    @Test func connectionLostWaitingForRCPT() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        let done = m.transportFailed(.closed(midReply: false))
        #expect(F.result(done)?.error == "relay closed the connection while waiting for the reply to RCPT")
        #expect(F.dispositions(done) == [.deferred("relay closed the connection while waiting for the reply to RCPT")])
        #expect(!m.isUsable)
    }

    @Test func refusedRSETClosesButKeepsTheOutcome() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(550, "no"))
        let done = m.replyReceived(F.reply(500, "what RSET"))
        #expect(F.closes(done) == true)
        #expect(F.dispositions(done) == [.failed("550 no")])
        #expect(m.closedReason == "RSET refused: 500 what RSET")
    }

    @Test func messageOverTheRelaysSizeFailsBeforeMail() {
        var m = F.ready("SIZE 1000")
        let action = m.beginTransaction(F.envelope("a@example.com", size: 1001))
        #expect(F.sentLines(action).isEmpty)
        #expect(
            F.dispositions(action) == [
                .failed("message of 1001 octets exceeds the relay's size limit of 1000 octets")
            ])
        #expect(F.closes(action) == false)
        #expect(m.state == .ready)
        #expect(
            F.sentLines(m.beginTransaction(F.envelope("a@example.com", size: 1000)))
                == ["MAIL FROM:<from@example.com> SIZE=1000"])
    }

    @Test func smtputf8IsRequiredForInternationalAddresses() {
        var without = F.ready("8BITMIME")
        let refused = without.beginTransaction(F.envelope("josé@example.com"))
        #expect(F.sentLines(refused).isEmpty)
        #expect(F.result(refused)?.error == "relay does not support SMTPUTF8, needed for <josé@example.com>")
        #expect(F.dispositions(refused) == [.failed("relay does not support SMTPUTF8, needed for <josé@example.com>")])

        let headersOnly = without.beginTransaction(F.envelope("a@example.com", utf8: true))
        #expect(
            F.result(headersOnly)?.error == "relay does not support SMTPUTF8, needed for its non-ASCII header fields")

        var with = F.ready("SMTPUTF8", "8BITMIME")
        #expect(
            F.sentLines(with.beginTransaction(F.envelope("josé@example.com", eightBit: true))).first
                == "MAIL FROM:<from@example.com> BODY=8BITMIME SMTPUTF8")
    }

    @Test func smtpUTF8AskedForWhereOfferedWhenOnlyPreferred() {
        var envelope = F.envelope("a@example.com", eightBit: true)
        envelope.prefersSMTPUTF8 = true
        var with = F.ready("SMTPUTF8", "8BITMIME")
        #expect(F.sentLines(with.beginTransaction(envelope)).first == "MAIL FROM:<from@example.com> BODY=8BITMIME SMTPUTF8")
        var without = F.ready("8BITMIME")
        let sent = without.beginTransaction(envelope)
        #expect(F.result(sent) == nil)  // not refused: sent as other 8-bit mail is
        #expect(F.sentLines(sent).first == "MAIL FROM:<from@example.com> BODY=8BITMIME")
    }

    @Test func eightBitMIMEOnlyWhenOfferedAndNeeded() {
        var offered = F.ready("8BITMIME")
        #expect(
            F.sentLines(offered.beginTransaction(F.envelope("a@example.com", eightBit: false))).first
                == "MAIL FROM:<from@example.com>")
        var notOffered = F.ready()
        #expect(
            F.sentLines(notOffered.beginTransaction(F.envelope("a@example.com", eightBit: true))).first
                == "MAIL FROM:<from@example.com>")
    }

    @Test func enhancedCodesAreParsedWhenOffered() {
        var m = F.ready("ENHANCEDSTATUSCODES")
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250, "2.1.0 OK"))
        let reset = m.replyReceived(F.reply(550, "5.1.1 no such user"))
        guard case .resetting(let outcome) = m.state else {
            Issue.record("expected RSET, got \(reset)")
            return
        }
        #expect(outcome.recipientReplies[0]?.enhancedCode == "5.1.1")
        #expect(outcome.recipientReplies[0]?.lines == ["no such user"])
        #expect(outcome.finished?.recipients[0].disposition == .failed("550 5.1.1 no such user"))

        var plain = F.ready()
        _ = plain.beginTransaction(F.envelope("a@example.com"))
        _ = plain.replyReceived(F.reply(550, "5.1.1 no such user"))
        guard case .resetting(let other) = plain.state else { return }
        #expect(other.mailReply?.enhancedCode == nil)
    }

    @Test func dataAcceptedWithoutRecipientsIsOutOfStep() {
        var m = F.ready("PIPELINING")
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(550, "unknown"))
        let done = m.replyReceived(F.reply(354, "go on"))
        #expect(F.closes(done) == true)
        #expect(F.result(done)?.error == "relay accepted DATA although no recipient was accepted")
        #expect(F.dispositions(done) == [.failed("550 unknown")])
    }

    @Test func intermediateReplyToMailIsOutOfStep() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        let done = m.replyReceived(F.reply(354, "??"))
        #expect(F.closes(done) == true)
        #expect(F.result(done)?.error == "unexpected reply to MAIL: 354 ??")
    }

    @Test(arguments: ["a@example.com\r\nRSET", "<a@example.com>", "a@exa\u{0}mple.com"])
    func addressesThatWouldInjectCommandsAreRefused(_ address: String) {
        var m = F.ready()
        let action = m.beginTransaction(F.envelope(address))
        #expect(F.sentLines(action).isEmpty)
        #expect(F.result(action)?.error?.hasPrefix("invalid address <") == true)
        #expect(m.state == .ready)
    }

    @Test func emptyEnvelope() {
        var m = F.ready()
        let action = m.beginTransaction(Envelope(sender: "", recipients: [], size: 1))
        #expect(F.result(action)?.error == "the message has no recipients")
    }

    @Test func nullSenderPath() {
        var m = F.ready()
        #expect(F.sentLines(m.beginTransaction(Envelope(sender: "", recipients: ["a@x"], size: 1))) == ["MAIL FROM:<>"])
    }

    @Test func staleTransactionCannotSendData() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        guard case .transactionReady(let start) = m.replyReceived(F.reply(354)) else { return }
        let stale = m.sendMessageData(transaction: start.transactionID + 1, recipients: ["a@example.com"])
        #expect(F.result(stale)?.error == "no transaction is waiting for this data")
        #expect(m.state.isMessageData)
        #expect(m.beginTransaction(F.envelope("b@example.com")) != .sendMessageData(then: []))
    }

    @Test func transactionOfAnotherSessionCannotSendData() {
        var mine = F.ready()
        var other = SessionStateMachine(
            configuration: .init(
                relay: F.relay, security: .none, heloName: "client.test", credentials: nil, allowPlaintextAuth: false,
                sessionNumber: 7))
        _ = other.start()
        _ = other.replyReceived(F.reply(220))
        _ = other.replyReceived(F.ehlo())
        for m in [0, 1] {
            let envelope = F.envelope("a@example.com")
            _ = m == 0 ? mine.beginTransaction(envelope) : other.beginTransaction(envelope)
            for code in [250, 250] {
                _ = m == 0 ? mine.replyReceived(F.reply(code)) : other.replyReceived(F.reply(code))
            }
        }
        guard case .transactionReady(let start) = mine.replyReceived(F.reply(354)),
            case .transactionReady = other.replyReceived(F.reply(354))
        else {
            Issue.record("DATA not accepted")
            return
        }
        #expect(
            F.result(other.sendMessageData(transaction: start.transactionID, recipients: start.recipients))?.error
                == "no transaction is waiting for this data")
        #expect(
            mine.sendMessageData(transaction: start.transactionID, recipients: start.recipients) == .sendMessageData(then: []))
    }

    @Test func quitDuringDataOnlyCloses() {
        var m = F.ready()
        _ = m.beginTransaction(F.envelope("a@example.com"))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(250))
        _ = m.replyReceived(F.reply(354))
        #expect(m.quit() == .close)
        #expect(!m.isUsable)
    }
}

/// The kind of a disposition, for parameterised expectations.
enum RecipientKind: Sendable, Equatable {
    case delivered, failed, deferred

    init(_ disposition: RecipientDisposition) {
        switch disposition {
        case .delivered: self = .delivered
        case .failed: self = .failed
        case .deferred: self = .deferred
        }
    }
}

extension SessionStateMachine.State {
    var isSendingData: Bool {
        if case .sendingData = self { return true }
        return false
    }

    var isMessageData: Bool {
        if case .messageData = self { return true }
        return false
    }
}
