import MIME
import MailCore

func mailbox(_ text: String) -> Mailbox { try! Mailbox.parse(text) }

func input(
    to: [String] = ["bob@example.com"], cc: [String] = [], bcc: [String] = [], subject: String = "Hello",
    text: String? = "Hi.\n", html: String? = nil, attachments: [Attachment] = [], headers: [HeaderField] = [],
    from: String = "Ana Silva <ana@acme.example>", replyTo: String? = nil
) -> CompositionInput {
    CompositionInput(
        from: mailbox(from), replyTo: replyTo.map(mailbox), to: to.map(mailbox), cc: cc.map(mailbox),
        bcc: bcc.map(mailbox), subject: subject, text: text, html: html, attachments: attachments, headers: headers,
        date: fixedDate, messageID: "1abc.xyz@acme.example"
    )
}
