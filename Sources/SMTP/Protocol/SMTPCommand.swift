import MailCore

/// One command line the client sends. `masked` is what transcripts and logs show instead of the
/// line when it carries a credential.
struct SMTPCommand: Sendable, Equatable, CustomStringConvertible {
    enum Verb: String, Sendable {
        case ehlo = "EHLO"
        case helo = "HELO"
        case starttls = "STARTTLS"
        case auth = "AUTH"
        case authResponse = "AUTH response"
        case mail = "MAIL"
        case rcpt = "RCPT"
        case data = "DATA"
        case rset = "RSET"
        case quit = "QUIT"
    }

    var verb: Verb
    var line: String
    var masked: String?

    /// The bytes on the wire.
    var wire: [UInt8] { Array(line.utf8) + [0x0D, 0x0A] }
    /// What a transcript shows: never a password or an AUTH payload.
    var transcriptLine: String { "C: " + (masked ?? line) }
    var description: String { masked ?? line }

    static func ehlo(_ name: String) -> SMTPCommand { SMTPCommand(verb: .ehlo, line: "EHLO \(name)") }
    static func helo(_ name: String) -> SMTPCommand { SMTPCommand(verb: .helo, line: "HELO \(name)") }
    static let starttls = SMTPCommand(verb: .starttls, line: "STARTTLS")
    static let data = SMTPCommand(verb: .data, line: "DATA")
    static let rset = SMTPCommand(verb: .rset, line: "RSET")
    static let quit = SMTPCommand(verb: .quit, line: "QUIT")

    /// `MAIL FROM:<sender> params` (RFC 5321 §4.1.1.2); "" is the null reverse-path.
    static func mail(from sender: String, parameters: [String]) -> SMTPCommand {
        SMTPCommand(verb: .mail, line: (["MAIL FROM:<\(sender)>"] + parameters).joined(separator: " "))
    }

    static func rcpt(to recipient: String) -> SMTPCommand {
        SMTPCommand(verb: .rcpt, line: "RCPT TO:<\(recipient)>")
    }

    /// RFC 4616 with an initial response (RFC 4954 §4): base64("" NUL user NUL password).
    static func authPlain(username: String, password: Secret) -> SMTPCommand {
        SMTPCommand(verb: .auth, line: "AUTH PLAIN " + plainPayload(username, password), masked: "AUTH PLAIN ********")
    }

    /// The PLAIN payload alone, for a relay that answers `AUTH PLAIN` with an empty 334 challenge.
    static func authPlainResponse(username: String, password: Secret) -> SMTPCommand {
        SMTPCommand(verb: .authResponse, line: plainPayload(username, password), masked: "********")
    }

    static let authLogin = SMTPCommand(verb: .auth, line: "AUTH LOGIN")

    /// A LOGIN step (draft-murchison-sasl-login): the user name or the password, base64.
    static func authLoginResponse(_ value: String) -> SMTPCommand {
        SMTPCommand(verb: .authResponse, line: base64(Array(value.utf8)), masked: "********")
    }

    /// The forms the password travels in (the PLAIN payload, the LOGIN step): what a relay's reply must
    /// never carry into a transcript, a log or an error, even when the relay echoes what it got.
    static func secretForms(username: String, password: Secret) -> [String] {
        guard !password.isEmpty else { return [] }
        return [plainPayload(username, password), base64(Array(password.reveal().utf8))]
    }

    private static func plainPayload(_ username: String, _ password: Secret) -> String {
        base64([0] + Array(username.utf8) + [0] + Array(password.reveal().utf8))
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        String(decoding: Base64.encode(bytes), as: UTF8.self)
    }
}
