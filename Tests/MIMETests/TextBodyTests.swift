import Testing

@testable import MIME

@Suite("Text parts: the 7bit test and line-end normalisation")
struct TextBodyTests {
    @Test("a typical notification is 7bit; each rule that rules 7bit out does so wherever it falls")
    func rules() {
        let line = String(repeating: "x", count: 78)
        #expect(sevenBit("Ola\n" + line + "\n" + line))
        #expect(!sevenBit(line + "x"))  // 79 octets
        #expect(!sevenBit("short\n" + line + "x\nshort"))
        #expect(!sevenBit("trailing space \nnext"))
        #expect(!sevenBit("ends in a tab\t"))
        #expect(!sevenBit("a boundary-like =_ inside"))
        #expect(sevenBit("an equals sign = alone, and a tab\tinside"))
        #expect(!sevenBit("acentuação"))
        #expect(!sevenBit("a DEL \u{7F}"))
        #expect(!sevenBit("a bell \u{07}"))
        // Each rule at every position of an eight-byte word.
        for offset in 0..<17 {
            let prefix = String(repeating: "a", count: offset)
            #expect(!sevenBit(prefix + "ç" + "bbbbbbbbbbbbbbbb"), "offset \(offset)")
            #expect(!sevenBit(prefix + "=_" + "bbbbbbbbbbbbbbbb"), "offset \(offset)")
            #expect(sevenBit(prefix + "=" + "bbbbbbbbbbbbbbbb"), "offset \(offset)")
        }
    }

    @Test("random texts: the word-at-a-time scan and copy agree with a byte-at-a-time reading of the rules")
    func randomAgainstReference() {
        var generator = SystemRandomNumberGenerator()
        // Mostly plain letters, with the bytes that matter, so both long lines and every rule turn up.
        let alphabet: [UInt8] =
            Array(repeating: 0x61, count: 40) + [0x20, 0x09, 0x0D, 0x0A, 0x0A, 0x3D, 0x5F, 0x7F, 0x01, 0xC3, 0xA7]
        for _ in 0..<2000 {
            let length = Int.random(in: 0...200, using: &generator)
            let input = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            input.withUnsafeBufferPointer { utf8 in
                #expect(TextBody.isSevenBitSafe(utf8) == referenceSevenBit(input), "input \(input)")
                var out: [UInt8] = [0x2A]
                TextBody.appendNormalisingLineEnds(utf8, to: &out)
                #expect(out == [0x2A] + referenceNormalised(input), "input \(input)")
            }
        }
    }

    private func sevenBit(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBufferPointer { TextBody.isSevenBitSafe($0) }
    }

    private func referenceSevenBit(_ bytes: [UInt8]) -> Bool {
        var lineLength = 0
        var previous: UInt8? = nil
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case 0x0D, 0x0A:
                if lineLength > 78 || previous == 0x20 || previous == 0x09 { return false }
                lineLength = -1
            case 0x3D:
                if index + 1 < bytes.count && bytes[index + 1] == 0x5F { return false }
            case 0x09, 0x20...0x7E:
                break
            default:
                return false
            }
            lineLength += 1
            previous = byte
        }
        return lineLength <= 78 && previous != 0x20 && previous != 0x09
    }

    private func referenceNormalised(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index < bytes.count, bytes[index] == 0x0A { index += 1 }
                out += [0x0D, 0x0A]
            } else {
                out.append(byte)
            }
        }
        return out
    }
}
