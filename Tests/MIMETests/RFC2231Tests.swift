import MIME
import Testing

@Suite("RFC 2231 parameter values")
struct RFC2231Tests {
    @Test("RFC 2231 §4 example")
    func rfcExample() throws {
        #expect(
            RFC2231.encodeValue("This is ***fun***", charset: "us-ascii", language: "en-us")
                == "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")
        let decoded = try #require(RFC2231.decodeValue("us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"))
        #expect(decoded.charset == "us-ascii")
        #expect(decoded.language == "en-us")
        #expect(decoded.value == "This is ***fun***")
    }

    @Test("RFC 2231 §4.1 example: sections of an extended value, joined, decode as one")
    func rfcContinuationExample() throws {
        // title*0*=us-ascii'en'This%20is%20even%20more%20 ; title*1*=%2A%2A%2Afun%2A%2A%2A%20 ; title*2="isn't it!"
        let joined = "us-ascii'en'This%20is%20even%20more%20" + "%2A%2A%2Afun%2A%2A%2A%20" + "isn't it!"
        #expect(try #require(RFC2231.decodeValue(joined)).value == "This is even more ***fun*** isn't it!")
    }

    @Test("file names: a quoted string for short printable ASCII, utf-8'' otherwise")
    func fileNames() {
        #expect(RFC2231.parameter("filename", "report 2026.pdf") == ["filename=\"report 2026.pdf\""])
        #expect(
            RFC2231.parameter("filename", "relatório final.pdf")
                == ["filename*=utf-8''relat%C3%B3rio%20final.pdf"])
        #expect(RFC2231.parameter("filename", "say \"hi\".txt") == ["filename*=utf-8''say%20%22hi%22.txt"])
        #expect(
            RFC2231.parameter("filename", "=?utf-8?q?x?=.txt") == ["filename*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D.txt"])
        #expect(RFC2231.parameter("filename", "a;b=c(d).txt") == ["filename=\"a;b=c(d).txt\""])
    }

    @Test("long names are split into numbered sections that never split a character")
    func sections() throws {
        let name = String(repeating: "relatório anual de atividades ", count: 6) + ".pdf"
        let sections = RFC2231.parameter("filename", name)
        #expect(sections.count > 2)
        var joined = ""
        for (n, section) in sections.enumerated() {
            let prefix = "filename*\(n)*="
            #expect(section.hasPrefix(prefix))
            #expect(section.utf8.count <= 72)
            let value = String(section.dropFirst(prefix.count))
            // Each section decodes on its own: no "%XX" or character was split.
            #expect(RFC2231.decodeValue(n == 0 ? value : "utf-8''" + value) != nil)
            #expect(!RFC2231.decodeValue(n == 0 ? value : "utf-8''" + value)!.value.contains("\u{FFFD}"))
            joined += value
        }
        #expect(try #require(RFC2231.decodeValue(joined)).value == name)
    }
}
