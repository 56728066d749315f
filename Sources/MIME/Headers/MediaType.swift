/// A media type as an attachment's `content_type` gives it (RFC 2045 §5.1): `type/subtype`, optionally with
/// `; attribute=value` parameters, checked and normalised (type, subtype and attribute names lower-cased).
struct MediaType: Equatable {
    var type: String
    var subtype: String
    var parameters: [(name: String, value: String)]

    static func == (lhs: MediaType, rhs: MediaType) -> Bool {
        lhs.type == rhs.type && lhs.subtype == rhs.subtype
            && lhs.parameters.elementsEqual(rhs.parameters, by: { $0.name == $1.name && $0.value == $1.value })
    }

    /// RFC 2045 §5.1 tspecials.
    static func isTSpecial(_ b: UInt8) -> Bool {
        switch b {
        case 0x28, 0x29, 0x3C, 0x3E, 0x40, 0x2C, 0x3B, 0x3A, 0x5C, 0x22, 0x2F, 0x5B, 0x5D, 0x3F, 0x3D: return true
        default: return false
        }
    }

    /// RFC 2045 §5.1 token character: any CHAR except SPACE, CTLs and tspecials.
    static func isTokenChar(_ b: UInt8) -> Bool { ASCII.isVisible(b) && !isTSpecial(b) }

    /// Parses `text`, or explains in a few words why it is not a media type.
    static func parse(_ text: String) -> Result<MediaType, MediaTypeError> {
        let bytes = Array(text.utf8)
        var i = 0
        func skipSpace() { while i < bytes.count, ASCII.isWSP(bytes[i]) { i += 1 } }
        func token() -> String? {
            let start = i
            while i < bytes.count, isTokenChar(bytes[i]) { i += 1 }
            return i > start ? ASCII.lowercased(String(decoding: bytes[start..<i], as: UTF8.self)) : nil
        }
        skipSpace()
        guard let type = token(), i < bytes.count, bytes[i] == 0x2F else { return .failure(.notTypeSubtype) }
        i += 1
        guard let subtype = token() else { return .failure(.notTypeSubtype) }
        var parameters: [(name: String, value: String)] = []
        skipSpace()
        while i < bytes.count {
            guard bytes[i] == 0x3B else { return .failure(.notTypeSubtype) }
            i += 1
            skipSpace()
            if i == bytes.count { break }  // a trailing ";" is harmless
            guard let name = token(), i < bytes.count, bytes[i] == ASCII.equals else { return .failure(.badParameter) }
            i += 1
            var value: [UInt8] = []
            if i < bytes.count, bytes[i] == ASCII.quote {
                // quoted-string (RFC 822 §3.3): printable ASCII and spaces, with quoted-pairs.
                i += 1
                var closed = false
                while i < bytes.count {
                    let b = bytes[i]
                    if b == ASCII.quote {
                        closed = true
                        i += 1
                        break
                    }
                    if b == ASCII.backslash, i + 1 < bytes.count { i += 1 }
                    guard bytes[i] >= 0x20, bytes[i] < 0x7F else { return .failure(.badParameter) }
                    value.append(bytes[i])
                    i += 1
                }
                guard closed else { return .failure(.badParameter) }
            } else {
                let start = i
                while i < bytes.count, isTokenChar(bytes[i]) { i += 1 }
                guard i > start else { return .failure(.badParameter) }
                value = Array(bytes[start..<i])
            }
            parameters.append((name, String(decoding: value, as: UTF8.self)))
            skipSpace()
        }
        return .success(MediaType(type: type, subtype: subtype, parameters: parameters))
    }

    /// `type/subtype` without parameters.
    var essence: String { "\(type)/\(subtype)" }

    /// The parameters as `name=value` strings, the value quoted when it is not a token; without the parameter
    /// `excluded` in any form (`name`, `name*`, `name*0*`, …), which the composer writes itself.
    func parameterStrings(excluding excluded: String) -> [String] {
        parameters.filter { $0.name != excluded && !$0.name.hasPrefix(excluded + "*") }.map { name, value in
            if !value.isEmpty && value.utf8.allSatisfy(Self.isTokenChar) { return "\(name)=\(value)" }
            var quoted: [UInt8] = [ASCII.quote]
            for b in value.utf8 {
                if b == ASCII.quote || b == ASCII.backslash { quoted.append(ASCII.backslash) }
                quoted.append(b)
            }
            quoted.append(ASCII.quote)
            return name + "=" + String(decoding: quoted, as: UTF8.self)
        }
    }
}

/// Why a `content_type` was refused.
enum MediaTypeError: Error {
    case notTypeSubtype
    case badParameter
}
