import Testing

@testable import Config
@testable import MailCore

/// SPEC §2.3, every branch of the From rule and of the default sender D.
@Suite struct SenderResolutionTests {
    static let d = Mailbox(displayName: "Platform", address: EmailAddress(localPart: "noreply", domain: "platform.test"))
    static let ana = Mailbox(displayName: "Ana Lima", address: EmailAddress(localPart: "ana", domain: "acme.example"))
    static let bare = Mailbox(address: EmailAddress(localPart: "bob", domain: "acme.example"))
    static let help = Mailbox(address: EmailAddress(localPart: "help", domain: "acme.example"))

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let kind: MessageKind
        let from: Mailbox?
        let replyTo: Mailbox?
        let allNotifications: Bool
        let onBehalf: OnBehalf
        let expectedFrom: String
        let expectedReplyTo: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "system mail uses D even with a from", kind: .system, from: ana, replyTo: nil, allNotifications: false,
             onBehalf: .from, expectedFrom: "Platform <noreply@platform.test>", expectedReplyTo: nil),
        Case(name: "user mail without from uses D", kind: .user, from: nil, replyTo: nil, allNotifications: false,
             onBehalf: .from, expectedFrom: "Platform <noreply@platform.test>", expectedReplyTo: nil),
        Case(name: "all_notifications forces D", kind: .user, from: ana, replyTo: nil, allNotifications: true,
             onBehalf: .from, expectedFrom: "Platform <noreply@platform.test>", expectedReplyTo: nil),
        Case(name: "all_notifications with on_behalf reply_to still D, no Reply-To", kind: .user, from: ana, replyTo: nil,
             allNotifications: true, onBehalf: .replyTo, expectedFrom: "Platform <noreply@platform.test>",
             expectedReplyTo: nil),
        Case(name: "on_behalf from: the user", kind: .user, from: ana, replyTo: nil, allNotifications: false,
             onBehalf: .from, expectedFrom: "Ana Lima <ana@acme.example>", expectedReplyTo: nil),
        Case(name: "on_behalf reply_to: user via D, Reply-To user", kind: .user, from: ana, replyTo: nil,
             allNotifications: false, onBehalf: .replyTo, expectedFrom: "Ana Lima via Platform <noreply@platform.test>",
             expectedReplyTo: "Ana Lima <ana@acme.example>"),
        Case(name: "on_behalf reply_to, user without a name", kind: .user, from: bare, replyTo: nil,
             allNotifications: false, onBehalf: .replyTo, expectedFrom: "Platform <noreply@platform.test>",
             expectedReplyTo: "bob@acme.example"),
        Case(name: "an explicit reply_to is kept", kind: .user, from: ana, replyTo: help, allNotifications: false,
             onBehalf: .replyTo, expectedFrom: "Ana Lima via Platform <noreply@platform.test>",
             expectedReplyTo: "help@acme.example"),
        Case(name: "system mail keeps an explicit reply_to", kind: .system, from: nil, replyTo: help,
             allNotifications: false, onBehalf: .from, expectedFrom: "Platform <noreply@platform.test>",
             expectedReplyTo: "help@acme.example"),
    ]

    @Test(arguments: cases)
    func fromRule(_ c: Case) {
        let decision = SenderResolution.resolve(
            kind: c.kind, from: c.from, replyTo: c.replyTo, defaultSender: Self.d, allNotifications: c.allNotifications,
            onBehalf: c.onBehalf)
        #expect(decision.from.description == c.expectedFrom)
        #expect(decision.replyTo?.description == c.expectedReplyTo)
        #expect(decision.envelopeFrom == decision.from.address)
    }

    @Test func defaultSenderRule() throws {
        let dir = ConfigDirectory()
        dir.write("companies.d/on.toml", "enabled = true\nhost = \"h\"\nsender = \"on@on.example\"\nsender_name = \"On\"\n")
        dir.write("companies.d/onnoname.toml", "enabled = true\nhost = \"h\"\nsender = \"nn@on.example\"\n")
        dir.write("companies.d/off.toml", "enabled = false\nsender = \"off@off.example\"\n")
        let withDefault = try dir.load("[sender]\naddress = \"g@global.example\"\nname = \"Global\"\n")
        #expect(withDefault.defaultSender(for: "on").description == "On <on@on.example>")
        #expect(withDefault.defaultSender(for: "onnoname").description == "Global <nn@on.example>")
        #expect(withDefault.defaultSender(for: "off").description == "Global <g@global.example>")
        #expect(withDefault.defaultSender(for: nil).description == "Global <g@global.example>")
        let without = try dir.load("[sender]\ndefault_sender = false\naddress = \"g@global.example\"\nname = \"Global\"\n")
        #expect(without.defaultSender(for: "on").description == "On <on@on.example>")
        #expect(without.defaultSender(for: "off").description == "Global <off@off.example>")
        #expect(without.defaultSender(for: "absent").description == "Global <g@global.example>")
        #expect(without.defaultSender(for: nil).description == "Global <g@global.example>")
    }
}
