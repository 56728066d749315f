import MIME
import Testing

@Suite("RFC 2047 encoded words")
struct EncodedWordsTests {
    /// RFC 2047 §8, the examples of how white space between encoded words is handled.
    @Test(
        "RFC 2047 §8 examples",
        arguments: [
            ("(=?ISO-8859-1?Q?a?=)", "(a)"),
            ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
            ("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>"),
            ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "Keld Jørn Simonsen <keld@dkuug.dk>"),
            ("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", "André Pirard <PIRARD@vm1.ulg.ac.be>"),
            (
                "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
                    + "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
                "If you can read this you understand the example."
            ),
            ("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>", "Olle Järnefors <ojarnef@admin.kth.se>"),
            (
                "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
                "Nathaniel Borenstein <nsb@thumper.bellcore.com>    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"
            ),
        ]
    )
    func rfcExamples(encoded: String, decoded: String) {
        #expect(EncodedWords.decode(encoded) == decoded)
    }

    @Test("encoding in UTF-8, Q and B (the RFC 2047 §8 names, in UTF-8)")
    func encoding() {
        #expect(EncodedWords.encode("Keld Jørn Simonsen", encoding: .q) == "=?utf-8?q?Keld_J=C3=B8rn_Simonsen?=")
        #expect(EncodedWords.encode("André", encoding: .b) == "=?utf-8?b?QW5kcsOp?=")
        // Only phrase-safe characters stand for themselves in Q (RFC 2047 §5 (3)).
        #expect(EncodedWords.encode("a_b=c?d\"e(f)", encoding: .q) == "=?utf-8?q?a=5Fb=3Dc=3Fd=22e=28f=29?=")
        // The shorter of the two is chosen.
        #expect(EncodedWords.encode("Solicitação aprovada") == "=?utf-8?q?Solicita=C3=A7=C3=A3o_aprovada?=")
        #expect(EncodedWords.encode("Conceição") == "=?utf-8?b?Q29uY2Vpw6fDo28=?=")
        #expect(EncodedWords.encode("日本語") == "=?utf-8?b?5pel5pys6Kqe?=")
        #expect(EncodedWords.encode("") == "")
    }

    @Test("long text: words of at most 75 characters, whole characters each, decoding back exactly")
    func longText() {
        let samples = [
            String(repeating: "Solicitação número 123 — ", count: 12),
            String(repeating: "日本語のテキスト", count: 20),
            String(repeating: "👩‍👩‍👧‍👦🇧🇷", count: 30),
            String(repeating: "a", count: 500),
        ]
        for sample in samples {
            for encoding in [EncodedWords.Encoding.q, .b, .shortest] {
                let encoded = EncodedWords.encode(sample, encoding: encoding)
                let words = encoded.split(separator: " ")
                #expect(words.count > 1)
                for word in words {
                    #expect(word.utf8.count <= 75)
                    // Each word decodes on its own to valid UTF-8: no character was split.
                    let alone = EncodedWords.decode(String(word))
                    #expect(!alone.contains("\u{FFFD}"))
                    #expect(!alone.hasPrefix("=?"))
                }
                #expect(EncodedWords.decode(encoded) == sample)
            }
        }
    }

    @Test("decoding leaves alone what it cannot decode")
    func lenient() {
        #expect(EncodedWords.decode("plain subject") == "plain subject")
        #expect(EncodedWords.decode("=?koi8-r?b?8NLJ18XU?=") == "=?koi8-r?b?8NLJ18XU?=")
        #expect(EncodedWords.decode("=?utf-8?x?abc?=") == "=?utf-8?x?abc?=")
        #expect(EncodedWords.decode("=?utf-8?q?a=ZZ?=") == "=?utf-8?q?a=ZZ?=")
        #expect(EncodedWords.decode("=?utf-8?b?!!!!?=") == "=?utf-8?b?!!!!?=")
        #expect(EncodedWords.decode("=?utf-8?q?unterminated") == "=?utf-8?q?unterminated")
        #expect(EncodedWords.decode("a =? b ?= c") == "a =? b ?= c")
        #expect(EncodedWords.decode("folded\r\n line") == "folded line")
    }

    @Test("other charsets, language suffixes and characters split across words")
    func charsets() {
        #expect(EncodedWords.decode("=?windows-1252?q?=93quoted=94_=80?=") == "\u{201C}quoted\u{201D} €")
        #expect(EncodedWords.decode("=?UTF-8*pt?Q?Ol=C3=A1?=") == "Olá")
        #expect(EncodedWords.decode("=?koi8-r?q?plain?=") == "plain")
        // "ã" (C3 A3) split across two words by a careless encoder.
        #expect(EncodedWords.decode("=?utf-8?q?Jo=C3?= =?utf-8?q?=A3o?=") == "João")
        #expect(EncodedWords.decode("Re: =?utf-8?q?Ol=C3=A1?= mundo") == "Re: Olá mundo")
    }
}
