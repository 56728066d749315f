import Testing

@testable import MailCore

@Suite struct RequestDecodingTests {
    func decode(_ text: String) -> (JSONValue?, Result<Request, ProtocolError>) {
        let (req, result) = Request.decode(line: Array(text.utf8))
        return (req, result)
    }

    func error(_ text: String) -> ProtocolError? {
        if case .failure(let e) = decode(text).1 { return e }
        return nil
    }

    @Test func decodesEveryOp() throws {
        #expect(try decode(#"{"op":"ping"}"#).1.get() == .ping)
        #expect(try decode(#"{"op":"status","req":1}"#).1.get() == .status)
        #expect(try decode(#"{"op":"show","id":"12"}"#).1.get() == .show(id: "12"))
        #expect(try decode(#"{"op":"cancel","id":"12"}"#).1.get() == .cancel(id: "12"))
        #expect(try decode(#"{"op":"retry","state":"failed"}"#).1.get() == .retry(.allFailed))
        #expect(try decode(#"{"op":"retry","id":"3"}"#).1.get() == .retry(.id("3")))
        #expect(try decode(#"{"op":"flush"}"#).1.get() == .flush)
        #expect(try decode(#"{"op":"reload"}"#).1.get() == .reload)
        #expect(
            try decode(#"{"op":"list","state":"deferred","company":"acme","limit":5}"#).1.get()
                == .list(ListRequest(state: .deferred, company: "acme", limit: 5)))
        #expect(
            try decode(#"{"op":"test","to":"a@b.c","company":"acme"}"#).1.get()
                == .test(TestRequest(to: "a@b.c", target: .company("acme"))))
    }

    @Test func decodesAFullMessage() throws {
        let line = #"""
            {"op":"enqueue","idempotency_key":"k1","message":{"company":"acme","kind":"system",
            "from":"Ana <ana@acme.example>","to":["bob@example.com"],"cc":["c@example.org"],"bcc":["d@example.net"],
            "reply_to":"help@acme.example","subject":"Olá","text":"t","html":"<p>h</p>",
            "attachments":[{"filename":"r.pdf","content_type":"application/pdf","data":"aGVsbG8="}],
            "headers":{"X-Request-Id":"abc","X-B":"c"}}}
            """#
        guard case .enqueue(let e) = try decode(line).1.get(), case .compose(let m) = e.message else {
            Issue.record("not an enqueue")
            return
        }
        #expect(e.idempotencyKey == "k1")
        #expect(m.company == "acme" && m.kind == .system && m.from == "Ana <ana@acme.example>")
        #expect(m.to == ["bob@example.com"] && m.cc == ["c@example.org"] && m.bcc == ["d@example.net"])
        #expect(m.attachments == [Attachment(filename: "r.pdf", contentType: "application/pdf", data: Array("hello".utf8))])
        #expect(m.headers == [HeaderField("X-Request-Id", "abc"), HeaderField("X-B", "c")])
    }

    @Test func decodesTheRawForm() throws {
        let line = #"{"op":"enqueue","message":{"raw":"U3ViamVjdDogaGkNCg0KYm9keQ0K","recipients":["a@b.c"]}}"#
        guard case .enqueue(let e) = try decode(line).1.get(), case .raw(let r) = e.message else {
            Issue.record("not raw")
            return
        }
        #expect(r.raw == Array("Subject: hi\r\n\r\nbody\r\n".utf8))
        #expect(r.recipients == ["a@b.c"] && r.from == nil)
    }

    @Test func theReadyMadeFormsFieldsGivenAsNullAreAbsent() throws {
        let line = #"{"op":"enqueue","message":{"to":["n@example.com"],"text":"x","raw":null,"recipients":null}}"#
        guard case .enqueue(let e) = try decode(line).1.get(), case .compose(let m) = e.message else {
            Issue.record("not the composed form")
            return
        }
        #expect(m.to == ["n@example.com"] && m.text == "x")
        #expect(error(#"{"op":"enqueue","message":{"to":["n@example.com"],"text":"x","raw":"aGk="}}"#)?.message
            == #"unknown field "to" in message"#)
    }

    @Test func echoesReqEvenWhenTheRequestIsRefused() {
        let (req, result) = decode(#"{"op":"nope","req":{"a":[1]}}"#)
        #expect(req == ["a": [1]])
        guard case .failure(let e) = result else {
            Issue.record("accepted")
            return
        }
        #expect(e.code == .badRequest && e.message.contains("nope"))
    }

    @Test(arguments: [
        (#"{"op":"ping","x":1}"#, ErrorCode.badRequest, "unknown field \"x\""),
        (#"{"req":1}"#, .badRequest, "no \"op\""),
        (#"{"op":5}"#, .badRequest, "op must be a string"),
        (#"{"op":"show"}"#, .badRequest, "id is required"),
        (#"{"op":"show","id":5}"#, .badRequest, "id must be a string"),
        (#"{"op":"list","limit":0}"#, .badRequest, "limit"),
        (#"{"op":"list","limit":1e30}"#, .badRequest, "limit must be a whole number within 64 bits (got 1e30)"),
        (#"{"op":"list","limit":2.5}"#, .badRequest, "limit must be a whole number within 64 bits (got 2.5)"),
        (#"{"op":"list","state":"lost"}"#, .badRequest, "lost"),
        (#"{"op":"enqueue","message":{"to":["a@b.c"],"txt":"x"}}"#, .badRequest, "unknown field \"txt\" in message"),
        (#"{"op":"enqueue","message":{"to":"a@b.c"}}"#, .badRequest, "message.to must be an array"),
        (#"{"op":"enqueue","message":{"to":["a@b.c", 3]}}"#, .badRequest, "message.to[1] must be a string"),
        (#"{"op":"enqueue","message":{"to":["a@b.c"],"kind":"robot"}}"#, .invalidMessage, "kind"),
        (#"{"op":"enqueue","message":{"to":["a@b.c"],"company":"-x"}}"#, .invalidMessage, "company"),
        (#"{"op":"enqueue","message":{"to":["a@b.c"],"attachments":[{"filename":"f","data":"*"}]}}"#,
         .invalidMessage, "attachments[0].data is not valid base64"),
        (#"{"op":"enqueue","message":{"to":["a@b.c"],"headers":{"X-A":1}}}"#, .badRequest, "X-A must be a string"),
        (#"{"op":"enqueue","message":{"raw":"aGk=","recipients":["a@b.c"],"subject":"x"}}"#, .badRequest, "subject"),
        (#"{"op":"retry"}"#, .badRequest, "retry needs id"),
        (#"{"op":"test","to":"a@b.c","company":"a","settings":{}}"#, .badRequest, "not both"),
    ])
    func refusesWithAClearError(line: String, code: ErrorCode, words: String) {
        let e = error(line)
        #expect(e?.code == code, "\(line): \(String(describing: e))")
        #expect(e?.message.contains(words) == true, "\(line): \(String(describing: e))")
    }

    @Test func companyIDPattern() {
        #expect(CompanyID.isValid("acme") && CompanyID.isValid("a.b_c-9") && CompanyID.isValid(String(repeating: "a", count: 64)))
        #expect(!CompanyID.isValid("") && !CompanyID.isValid("-a") && !CompanyID.isValid("a/b"))
        #expect(!CompanyID.isValid(String(repeating: "a", count: 65)) && !CompanyID.isValid("açme"))
    }

    @Test func responsesPutOkAndReqFirst() {
        let ok = Response.success([("id", "1")]).line(req: 9)
        #expect(String(decoding: ok, as: UTF8.self) == "{\"ok\":true,\"req\":9,\"id\":\"1\"}\n")
        let failed = Response.failure(.notFound, "no message 1").line(req: nil)
        #expect(
            String(decoding: failed, as: UTF8.self)
                == "{\"ok\":false,\"error\":{\"code\":\"not_found\",\"message\":\"no message 1\"}}\n")
    }
}
