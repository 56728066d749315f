import MailCore

/// Where a transaction stands after MAIL, RCPT… and DATA: the relay's replies so far and, when the
/// transaction already ended (MAIL refused, every RCPT refused, DATA refused, the connection lost,
/// the message unsendable to this relay), its final result.
public struct TransactionStart: Sendable, Equatable {
    /// The envelope's recipients, in order.
    public var recipients: [String]
    /// The reply to MAIL, if one came.
    public var mailReply: SMTPReply?
    /// Each recipient's reply to its RCPT (nil where none came), parallel to `recipients`.
    public var recipientReplies: [SMTPReply?]
    /// DATA was answered with 354: `finishTransaction` sends the message data.
    public var dataAccepted: Bool
    /// The outcome, when the transaction is already over; `finishTransaction` then sends nothing.
    public var finished: DeliveryResult?
    /// Which transaction of the connection this is, so a stale value cannot finish another.
    let transactionID: Int

    init(
        transactionID: Int, recipients: [String], mailReply: SMTPReply? = nil, recipientReplies: [SMTPReply?]? = nil,
        dataAccepted: Bool = false, finished: DeliveryResult? = nil
    ) {
        self.transactionID = transactionID
        self.recipients = recipients
        self.mailReply = mailReply
        self.recipientReplies = recipientReplies ?? Array(repeating: nil, count: recipients.count)
        self.dataAccepted = dataAccepted
        self.finished = finished
    }
}
