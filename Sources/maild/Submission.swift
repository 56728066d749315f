import Config
import MIME
import MailCore
import Outbox

/// Turns the message of an `enqueue` into what the outbox stores: validated, sender decided (SPEC §2.3),
/// composed once into its final bytes. Pure CPU work, no I/O.
enum Submission {
    static func prepare(_ request: EnqueueRequest, configuration: Configuration, now: Timestamp) throws(ProtocolError)
        -> NewMessage
    {
        let composed: ComposedMessage
        let kind: MessageKind
        switch request.message {
        case .compose(let message):
            let valid = try MessageValidator.validate(message)
            let decision = SenderResolution.resolve(
                kind: valid.kind, from: valid.from, replyTo: valid.replyTo,
                defaultSender: configuration.defaultSender(for: valid.company),
                allNotifications: configuration.sender.allNotifications, onBehalf: configuration.sender.onBehalf)
            composed = MessageComposer.compose(
                CompositionInput(
                    from: decision.from, replyTo: decision.replyTo, to: valid.to, cc: valid.cc, bcc: valid.bcc,
                    subject: valid.subject, text: valid.text, html: valid.html, attachments: valid.attachments,
                    headers: valid.headers, date: now,
                    messageID: MessageIDGenerator.generate(
                        domain: messageIDDomain(decision.from.address, configuration: configuration))))
            kind = valid.kind
        case .raw(let raw):
            composed = try RawMessagePreparer.prepare(raw, date: now, messageIDDomain: configuration.daemon.heloName)
            kind = .user
        }
        var message = NewMessage(
            company: request.message.company, kind: kind, messageID: composed.messageID,
            envelopeFrom: composed.envelopeFrom, fromAddress: composed.fromAddress, subject: composed.subject,
            recipients: composed.recipients, data: composed.bytes, needsSMTPUTF8: composed.needsSMTPUTF8,
            has8BitData: composed.has8BitData, idempotencyKey: request.idempotencyKey)
        message.prefersSMTPUTF8 = composed.prefersSMTPUTF8
        return message
    }

    /// The right side of a Message-ID: the sender's domain, or `helo_name` when that is not a plain ASCII
    /// host name (an internationalised domain or an address literal).
    static func messageIDDomain(_ sender: EmailAddress, configuration: Configuration) -> String {
        let domain = sender.domain
        let plain = domain.utf8.allSatisfy { $0 < 0x80 } && !domain.hasPrefix("[")
        return plain ? domain : configuration.daemon.heloName
    }
}
