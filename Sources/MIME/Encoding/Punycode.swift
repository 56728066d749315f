import MailCore

/// Punycode (RFC 3492), for writing an internationalised domain label in ASCII (`xn--…`, RFC 5890) where UTF-8 is
/// not allowed, such as the right side of a Message-ID.
///
/// This is the bare encoding: no IDNA mapping or normalisation beyond lower-casing, which is enough for labels
/// that identify rather than route.
public enum Punycode {
    private static let base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    /// The Punycode of `label` (without the `xn--` prefix), or nil when it would overflow.
    public static func encode(_ label: String) -> String? {
        let input = label.unicodeScalars.map { Int($0.value) }
        var output: [UInt8] = input.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append(0x2D) }
        var n = initialN
        var delta = 0
        var bias = initialBias
        while handled < input.count {
            guard let m = input.filter({ $0 >= n }).min() else { return nil }
            let (product, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow, delta <= Int(Int32.max) - product else { return nil }
            delta += product
            n = m
            for c in input {
                if c < n { delta += 1 }
                guard c == n else { continue }
                var q = delta
                var k = base
                while true {
                    let t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias)
                    if q < t { break }
                    output.append(digit(t + (q - t) % (base - t)))
                    q = (q - t) / (base - t)
                    k += base
                }
                output.append(digit(q))
                bias = adapt(delta, handled + 1, handled == basicCount)
                delta = 0
                handled += 1
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func digit(_ d: Int) -> UInt8 { d < 26 ? UInt8(0x61 + d) : UInt8(0x30 + d - 26) }

    /// RFC 3492 §6.1.
    private static func adapt(_ delta: Int, _ numPoints: Int, _ firstTime: Bool) -> Int {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k = 0
        while delta > ((base - tmin) * tmax) / 2 {
            delta /= base - tmin
            k += base
        }
        return k + (base - tmin + 1) * delta / (delta + skew)
    }

    /// `domain` with every non-ASCII label as its `xn--` A-label, lower-cased; nil when a label cannot be encoded.
    public static func asciiDomain(_ domain: String) -> String? {
        var labels: [String] = []
        for label in domain.lowercased().split(separator: ".", omittingEmptySubsequences: false) {
            if label.utf8.allSatisfy({ $0 < 0x80 }) {
                labels.append(String(label))
            } else {
                guard let encoded = encode(String(label)) else { return nil }
                labels.append("xn--" + encoded)
            }
        }
        return labels.joined(separator: ".")
    }
}

extension EmailAddress {
    /// The address with an internationalised domain written as its A-labels (`xn--…`, RFC 5890) when the
    /// local part is ASCII: it then needs no SMTPUTF8 and any relay takes it, as Postfix converts such
    /// domains for a relay without SMTPUTF8. A non-ASCII local part needs SMTPUTF8 whatever the domain
    /// (RFC 6531), so such an address, a domain literal and an ASCII domain are returned as they are.
    public var withASCIIDomain: EmailAddress {
        guard !domain.utf8.allSatisfy({ $0 < 0x80 }), localPart.utf8.allSatisfy({ $0 < 0x80 }),
            !domain.hasPrefix("["), let ascii = Punycode.asciiDomain(domain)
        else { return self }
        return EmailAddress(localPart: localPart, domain: ascii)
    }
}

extension Mailbox {
    /// The mailbox with its address's domain in ASCII where that is all it takes (see `EmailAddress`).
    public var withASCIIDomain: Mailbox { Mailbox(displayName: displayName, address: address.withASCIIDomain) }
}
