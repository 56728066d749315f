import MIME
import MailCore
import Testing

@Suite("Message validation (SPEC §3, issue 4)")
struct MessageValidatorTests {
    func request(_ change: (inout MessageRequest) -> Void = { _ in }) -> MessageRequest {
        var r = MessageRequest()
        r.from = "Ana Silva <ana@acme.example>"
        r.to = ["bob@example.com"]
        r.subject = "Hello"
        r.text = "Hi."
        change(&r)
        return r
    }

    func refusal(_ change: (inout MessageRequest) -> Void) -> ProtocolError? {
        do {
            _ = try MessageValidator.validate(request(change))
            return nil
        } catch {
            return error
        }
    }

    @Test("a good request passes, with its addresses parsed")
    func valid() throws {
        let m = try MessageValidator.validate(
            request {
                $0.cc = ["\"Silva, Ana\" <ana@x.example>"]
                $0.bcc = ["hidden@x.example"]
                $0.replyTo = "help@acme.example"
                $0.headers = [
                    HeaderField("X-Request-Id", "abc"), HeaderField("List-Unsubscribe", "<https://u.example/x>"),
                ]
                $0.attachments = [Attachment(filename: "a.pdf", contentType: "Application/PDF", data: [1])]
            })
        #expect(m.from?.displayName == "Ana Silva")
        #expect(m.cc.first?.displayName == "Silva, Ana")
        #expect(m.bcc.map(\.address.string) == ["hidden@x.example"])
        #expect(m.replyTo?.address.string == "help@acme.example")
        #expect(m.subject == "Hello")
        #expect(m.attachments.first?.contentType == "application/pdf")
        #expect(m.headers.count == 2)
    }

    @Test(
        "each bad address is refused, naming the field",
        arguments: [
            ("to", ["bob@example.com", "bob@"], "message.to[1]: 'bob@' has an empty domain"),
            ("cc", ["nope"], "message.cc[0]: 'nope' has no '@'"),
            ("bcc", ["a@b.example", "x y@b.example"], "message.bcc[1]: 'x y@b.example' has ' ' in its local part"),
        ]
    )
    func badListAddress(field: String, value: [String], message: String) {
        let error = refusal {
            switch field {
            case "to": $0.to = value
            case "cc": $0.cc = value
            default: $0.bcc = value
            }
        }
        #expect(error == .invalidMessage(message))
    }

    @Test("from and reply_to are checked")
    func badSingleAddress() {
        #expect(refusal { $0.from = "Ana <ana@>" } == .invalidMessage("message.from: 'ana@' has an empty domain"))
        #expect(refusal { $0.replyTo = "" } == .invalidMessage("message.reply_to: the address is empty"))
        #expect(
            refusal { $0.from = "ana@acme.example\r\nBcc: x@y.example" }?.message.hasPrefix("message.from: ") == true)
    }

    @Test("no recipient")
    func noRecipient() {
        #expect(
            refusal { $0.to = [] }
                == .invalidMessage("message: no recipient; give at least one address in to, cc or bcc"))
        #expect(throws: Never.self) {
            try MessageValidator.validate(
                request {
                    $0.to = []
                    $0.bcc = ["a@b.example"]
                })
        }
    }

    @Test("no body")
    func noBody() throws {
        #expect(refusal { $0.text = nil } == .invalidMessage("message: no body; give text, html or both"))
        #expect(refusal { $0.text = "" } == .invalidMessage("message: no body; give text, html or both"))
        let htmlOnly = try MessageValidator.validate(
            request {
                $0.text = ""
                $0.html = "<p>x</p>"
            })
        #expect(htmlOnly.text == nil && htmlOnly.html == "<p>x</p>")
    }

    @Test("CR, LF and other controls in the subject")
    func subject() {
        #expect(
            refusal { $0.subject = "a\r\nBcc: x@y.example" }
                == .invalidMessage("message.subject: contains a line break (CR or LF)"))
        #expect(refusal { $0.subject = "a\nb" } == .invalidMessage("message.subject: contains a line break (CR or LF)"))
        #expect(refusal { $0.subject = "a\u{0}b" } == .invalidMessage("message.subject: contains a control character"))
        #expect(refusal { $0.subject = "tab\tis fine" } == nil)
        #expect(refusal { $0.subject = nil } == nil)
    }

    @Test(
        "header names",
        arguments: [
            ("X-Request-Id", nil), ("x-lower", nil), ("In-Reply-To", nil), ("references", nil),
            ("List-Unsubscribe-Post", nil), ("Auto-Submitted", nil), ("Precedence", nil),
            ("Subject", "message.headers.Subject: maild writes Subject itself; use the message's own fields"),
            ("bcc", "message.headers.bcc: maild writes bcc itself; use the message's own fields"),
            (
                "Content-Type",
                "message.headers.Content-Type: maild writes Content-Type itself; use the message's own fields"
            ),
            (
                "Received",
                "message.headers.Received: only X- headers and In-Reply-To, References, List-Unsubscribe, "
                    + "List-Unsubscribe-Post, Auto-Submitted, Precedence are allowed"
            ),
            (
                "X-",
                "message.headers.X-: only X- headers and In-Reply-To, References, List-Unsubscribe, "
                    + "List-Unsubscribe-Post, Auto-Submitted, Precedence are allowed"
            ),
            (
                "X-Bad Name",
                "message.headers.X-Bad Name: a header name is printable ASCII without spaces or ':' (RFC 5322 §3.6.8)"
            ),
            (
                "X-Colon:",
                "message.headers.X-Colon:: a header name is printable ASCII without spaces or ':' (RFC 5322 §3.6.8)"
            ),
            (
                "X-Ção",
                "message.headers.X-Ção: a header name is printable ASCII without spaces or ':' (RFC 5322 §3.6.8)"
            ),
            ("X-A\r\nBcc", "message.headers.X-A\\r\\nBcc: the header name contains a line break"),
            ("", "message.headers.: the header name is empty"),
            (
                "X-" + String(repeating: "n", count: 75),
                "message.headers.X-\(String(repeating: "n", count: 75)): the header name is over 76 octets"
            ),
        ] as [(String, String?)]
    )
    func headerNames(name: String, message: String?) {
        #expect(refusal { $0.headers = [HeaderField(name, "v")] } == message.map { .invalidMessage($0) })
    }

    @Test("header values and duplicates")
    func headerValues() {
        #expect(
            refusal { $0.headers = [HeaderField("X-A", "1\r\n2")] }
                == .invalidMessage("message.headers.X-A: contains a line break (CR or LF)"))
        #expect(
            refusal { $0.headers = [HeaderField("X-A", "1"), HeaderField("x-a", "2")] }
                == .invalidMessage("message.headers.x-a: given twice (header names are case-insensitive)"))
        #expect(
            refusal { $0.headers = [HeaderField("References", "<ação@x>")] }
                == .invalidMessage(
                    "message.headers.References: must be ASCII (it is a structured field; encode URLs and ids)"))
        #expect(
            refusal { $0.headers = [HeaderField("References", String(repeating: "r", count: 990))] }
                == .invalidMessage("message.headers.References: has a word too long for a header line (998 octets)"))
        #expect(refusal { $0.headers = [HeaderField("X-Nome", "Conceição")] } == nil)
    }

    @Test("attachments: file name and content type")
    func attachments() {
        func attach(_ name: String, _ type: String) -> (inout MessageRequest) -> Void {
            {
                $0.attachments = [
                    Attachment(filename: "ok.txt", contentType: "text/plain", data: []),
                    Attachment(filename: name, contentType: type, data: [1, 2]),
                ]
            }
        }
        #expect(refusal(attach("", "text/plain")) == .invalidMessage("message.attachments[1].filename: is empty"))
        #expect(refusal(attach("  ", "text/plain")) == .invalidMessage("message.attachments[1].filename: is empty"))
        #expect(
            refusal(attach("a\nb.txt", "text/plain"))
                == .invalidMessage("message.attachments[1].filename: contains a line break (CR or LF)"))
        #expect(
            refusal(attach("a.txt", "pdf"))
                == .invalidMessage("message.attachments[1].content_type: 'pdf' is not a type/subtype media type"))
        #expect(
            refusal(attach("a.txt", "text/plain\r\nX: y"))
                == .invalidMessage(
                    "message.attachments[1].content_type: 'text/plain\\r\\nX: y' is not a type/subtype media type"))
        #expect(
            refusal(attach("a.txt", "text/plain; charset"))
                == .invalidMessage(
                    "message.attachments[1].content_type: 'text/plain; charset' has a malformed parameter"))
        #expect(refusal(attach("a.txt", "text/pl ain")) != nil)
        #expect(refusal(attach("a.txt", "application/")) != nil)
        #expect(
            refusal(attach("a.eml", "message/rfc822"))
                == .invalidMessage(
                    "message.attachments[1].content_type: message/rfc822 cannot be sent base64-encoded "
                        + "(RFC 2046); use application/octet-stream"))
        #expect(refusal(attach("a", "multipart/mixed")) != nil)
        #expect(refusal(attach("relatório.csv", "text/csv; charset=\"utf-8\"")) == nil)
    }

    @Test("a content type with parameters is normalised")
    func mediaTypeParameters() throws {
        let m = try MessageValidator.validate(
            request {
                $0.attachments = [
                    Attachment(
                        filename: "a.csv",
                        contentType: "Text/CSV ; Charset=\"utf-8\"; name=x; name*=utf-8''y; header=present", data: []
                    )
                ]
            })
        #expect(m.attachments[0].contentType == "text/csv; charset=utf-8; header=present")
    }
}
