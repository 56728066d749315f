import MailCore
import Testing

@Suite("Address parser (RFC 5322 §3.4, RFC 6532)")
struct AddressParserTests {
    @Test("bare addr-spec")
    func bare() throws {
        let m = try Mailbox.parse("bob@example.com")
        #expect(m.displayName == nil)
        #expect(m.address == EmailAddress(localPart: "bob", domain: "example.com"))
        #expect(!m.address.needsSMTPUTF8)
    }

    @Test(
        "name-addr forms",
        arguments: [
            ("Ana Silva <ana@acme.example>", "Ana Silva", "ana@acme.example"),
            ("\"Silva, Ana\" <ana@acme.example>", "Silva, Ana", "ana@acme.example"),
            ("  João Conceição   <joao@example.pt>  ", "João Conceição", "joao@example.pt"),
            ("<bob@example.com>", nil, "bob@example.com"),
            ("Bob<bob@example.com>", "Bob", "bob@example.com"),
            ("Bob < bob@example.com >", "Bob", "bob@example.com"),
            ("\"Ana\" Silva <a@b.example>", "Ana Silva", "a@b.example"),
            ("Ana \"the <boss>\" Silva <a@b.example>", "Ana the <boss> Silva", "a@b.example"),
            ("\"say \\\"hi\\\" \\\\ now\" <a@b.example>", "say \"hi\" \\ now", "a@b.example"),
            ("J. R. Smith <j@b.example>", "J. R. Smith", "j@b.example"),
            ("\"\" <a@b.example>", nil, "a@b.example"),
        ] as [(String, String?, String)]
    )
    func nameAddr(text: String, name: String?, address: String) throws {
        let m = try Mailbox.parse(text)
        #expect(m.displayName == name)
        #expect(m.address.string == address)
    }

    @Test(
        "valid addr-specs",
        arguments: [
            "a@b", "first.last@example.com", "x+tag@example.com", "!#$%&'*+-/=?^_`{|}~@example.com",
            "\"john doe\"@example.com", "\"a@b\"@example.com", "\"quote\\\"d\"@example.com", "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]", "user@[IPv6:::1]", "user@[IPv6:1:2:3:4:5:6:7:8]",
            "user@[IPv6:::ffff:192.0.2.1]", "user@[IPv6:1:2:3:4:5:6:192.0.2.1]", "user@xn--bcher-kva.example",
            "user@a-b.c-d.example", "user@123.example", "localhost-user@localhost",
        ]
    )
    func validAddrSpec(text: String) throws {
        let address = try EmailAddress.parse(text)
        #expect(address.string == text)
    }

    @Test(
        "invalid addresses name the problem",
        arguments: [
            ("bob@", "'bob@' has an empty domain"),
            ("@example.com", "'@example.com' has an empty local part"),
            ("bob", "'bob' has no '@'"),
            ("", "the address is empty"),
            ("   ", "the address is empty"),
            ("a..b@example.com", "'a..b@example.com' has an empty part between dots in its local part"),
            (".a@example.com", "'.a@example.com' has an empty part between dots in its local part"),
            ("a.@example.com", "'a.@example.com' has an empty part between dots in its local part"),
            ("a b@example.com", "'a b@example.com' has ' ' in its local part"),
            ("a@b@example.com", "'a@b@example.com' has '@' in its local part"),
            ("a@example..com", "'a@example..com' has an empty label in its domain"),
            ("a@example.com.", "'a@example.com.' has an empty label in its domain"),
            ("a@-example.com", "'a@-example.com' has a domain label that starts or ends with '-'"),
            ("a@exa_mple.com", "'a@exa_mple.com' has '_' in its domain"),
            ("a@[300.1.1.1]", "'a@[300.1.1.1]' has an invalid domain literal"),
            ("a@[1.2.3]", "'a@[1.2.3]' has an invalid domain literal"),
            ("a@[IPv6:1::2::3]", "'a@[IPv6:1::2::3]' has an invalid domain literal"),
            ("a@[IPv6:1:2:3:4:5:6:7:8:9]", "'a@[IPv6:1:2:3:4:5:6:7:8:9]' has an invalid domain literal"),
            ("a@[IPv6:1:2:3:4:5:6:7::8]", "'a@[IPv6:1:2:3:4:5:6:7::8]' has an invalid domain literal"),
            ("a@[abc]", "'a@[abc]' has an invalid domain literal"),
            ("a@[1.2.3.4", "'a@[1.2.3.4' has an invalid domain literal"),
            ("\"unterminated@example.com", "'\"unterminated@example.com' has an invalid quoted local part"),
            ("\"a\"b\"@example.com", "'\"a\"b\"@example.com' has an invalid quoted local part"),
            ("\"v> NOTIFY=NEVER\"@victim.test", "'\"v> NOTIFY=NEVER\"@victim.test' has '<' or '>' in its local part, which maild does not send"),
            ("Bob <bob@example.com", "'Bob <bob@example.com' has ' ' in its local part"),
            ("Bob bob@example.com>", "'Bob bob@example.com>' has '>' without '<'"),
            (
                "Silva, Ana <a@b.example>",
                "'Silva, Ana <a@b.example>' has ',' in its display name; put the name in double quotes"
            ),
            ("\"Silva <a@b.example>", "'\"Silva <a@b.example>' has an unterminated quoted display name"),
            ("Bob <<bob@example.com>>", "'Bob <<bob@example.com>>' has more than one '<…>'"),
            ("Bob <@relay.example:bob@example.com>", "'@relay.example:bob@example.com' has '@' in its local part"),
            ("bob@example.com\r\nBcc: x@y.example", "'bob@example.com\\r\\nBcc: x@y.example' contains a line break"),
            ("bob\n@example.com", "'bob\\n@example.com' contains a line break"),
        ]
    )
    func invalid(text: String, reason: String) {
        #expect(throws: AddressError(reason: reason)) { try Mailbox.parse(text) }
    }

    @Test("limits of RFC 5321 §4.5.3.1")
    func limits() throws {
        let local64 = String(repeating: "a", count: 64)
        _ = try EmailAddress.parse("\(local64)@example.com")
        #expect(throws: AddressError.self) { try EmailAddress.parse("a\(local64)@example.com") }
        let label63 = String(repeating: "b", count: 63)
        _ = try EmailAddress.parse("a@\(label63).example")
        #expect(throws: AddressError.self) { try EmailAddress.parse("a@b\(label63).example") }
        // 254 octets in all at most.
        let domain = [String](repeating: String(repeating: "c", count: 60), count: 4).joined(separator: ".")
        #expect(throws: AddressError.self) { try EmailAddress.parse("\(local64)@\(domain)") }
    }

    @Test("internationalised addresses need SMTPUTF8 (RFC 6531)")
    func internationalised() throws {
        let local = try Mailbox.parse("José <josé@example.com>")
        #expect(local.address.needsSMTPUTF8)
        #expect(local.displayName == "José")
        let domain = try EmailAddress.parse("info@ação.com.br")
        #expect(domain.needsSMTPUTF8)
        #expect(domain.domain == "ação.com.br")
        let both = try EmailAddress.parse("用户@例子.广告")
        #expect(both.needsSMTPUTF8)
        let quoted = try EmailAddress.parse("\"joão silva\"@example.com")
        #expect(quoted.needsSMTPUTF8)
        #expect(!(try EmailAddress.parse("joao@example.com")).needsSMTPUTF8)
        // A UTF-8 display name alone does not: it is written as encoded words.
        #expect(!(try Mailbox.parse("João <joao@example.com>")).address.needsSMTPUTF8)
    }

    @Test("invisible or space-like characters are refused in addresses")
    func invisible() {
        #expect(throws: AddressError.self) { try EmailAddress.parse("a\u{00A0}b@example.com") }
        #expect(throws: AddressError.self) { try EmailAddress.parse("a\u{200B}b@example.com") }
        #expect(throws: AddressError.self) { try EmailAddress.parse("a\u{0085}b@example.com") }
        #expect(throws: AddressError.self) { try EmailAddress.parse("a@exa\u{3000}mple.com") }
        #expect(throws: AddressError.self) { try EmailAddress.parse("a@\u{0301}example.com") }
        #expect(throws: AddressError.self) { try EmailAddress.parse("\"a\u{01}b\"@example.com") }
        #expect(throws: AddressError.self) { try Mailbox.parse("Bob\u{00} <bob@example.com>") }
    }

    @Test("combining marks inside a domain label are allowed (IDNA 2008)")
    func combiningMarks() throws {
        let address = try EmailAddress.parse("a@cafe\u{0301}.example")
        #expect(address.needsSMTPUTF8)
    }

    @Test("lists split on commas outside quotes and angle brackets")
    func list() throws {
        let list = try Mailbox.parseList(
            "\"Silva, Ana\" <ana@acme.example>, bob@example.com,, Carla Dias <carla@example.org>, "
        )
        #expect(list.map(\.address.string) == ["ana@acme.example", "bob@example.com", "carla@example.org"])
        #expect(list.map(\.displayName) == ["Silva, Ana", nil, "Carla Dias"])
        #expect(try Mailbox.parseList("").isEmpty)
        #expect(throws: AddressError.self) { try Mailbox.parseList("a@b.example, nope") }
    }

    @Test("description reads back as a mailbox")
    func description() throws {
        #expect(try Mailbox.parse("Ana <ana@b.example>").description == "Ana <ana@b.example>")
        #expect(try Mailbox.parse("ana@b.example").description == "ana@b.example")
    }

    @Test("a list or trailing text where one mailbox is expected is named as such")
    func namesTheRealMistake() {
        #expect(throws: AddressError(reason: "'bob@example.com, carl@example.com' holds more than one address; give each on its own")) {
            try Mailbox.parse("bob@example.com, carl@example.com")
        }
        #expect(throws: AddressError(reason: "'Name <a@example.com> trailing' has text after its '<…>'")) {
            try Mailbox.parse("Name <a@example.com> trailing")
        }
        #expect((try? Mailbox.parse("\"Silva, Ana\" <ana@example.com>"))?.displayName == "Silva, Ana")
    }
}
