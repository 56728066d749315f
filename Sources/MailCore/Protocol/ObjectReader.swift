/// Reads the members of a JSON object with type checks, and refuses members nobody read, so a typo in
/// a field name is an error instead of silently dropped data.
struct ObjectReader {
    let members: [(String, JSONValue)]
    /// Where this object is, for messages: "request", "message", "message.attachments[1]".
    let path: String

    init(_ value: JSONValue, path: String) throws(ProtocolError) {
        guard case .object(let members) = value else {
            throw .badRequest("\(path) must be an object, not \(value.typeDescription)")
        }
        self.members = members
        self.path = path
    }

    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }

    func value(_ key: String) -> JSONValue? {
        guard let v = members.first(where: { $0.0 == key })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }

    func name(_ key: String) -> String { path == "request" ? key : "\(path).\(key)" }

    func string(_ key: String) throws(ProtocolError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw .badRequest("\(name(key)) must be a string, not \(v.typeDescription)") }
        return s
    }

    func requiredString(_ key: String) throws(ProtocolError) -> String {
        guard let s = try string(key) else { throw .badRequest("\(name(key)) is required") }
        return s
    }

    func bool(_ key: String) throws(ProtocolError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw .badRequest("\(name(key)) must be a boolean, not \(v.typeDescription)") }
        return b
    }

    func int(_ key: String) throws(ProtocolError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else {
            // A number that is not a whole one, or too large for 64 bits: quote it rather than say "a number".
            if case .number(let text) = v {
                throw .badRequest("\(name(key)) must be a whole number within 64 bits (got \(text))")
            }
            throw .badRequest("\(name(key)) must be an integer, not \(v.typeDescription)")
        }
        return i
    }

    func stringArray(_ key: String) throws(ProtocolError) -> [String] {
        guard let v = value(key) else { return [] }
        guard case .array(let elements) = v else {
            throw .badRequest("\(name(key)) must be an array of strings, not \(v.typeDescription)")
        }
        var out: [String] = []
        out.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard case .string(let s) = element else {
                throw .badRequest("\(name(key))[\(i)] must be a string, not \(element.typeDescription)")
            }
            out.append(s)
        }
        return out
    }

    func array(_ key: String) throws(ProtocolError) -> [JSONValue] {
        guard let v = value(key) else { return [] }
        guard case .array(let elements) = v else {
            throw .badRequest("\(name(key)) must be an array, not \(v.typeDescription)")
        }
        return elements
    }

    func object(_ key: String) throws(ProtocolError) -> [(String, JSONValue)]? {
        guard let v = value(key) else { return nil }
        guard case .object(let members) = v else {
            throw .badRequest("\(name(key)) must be an object, not \(v.typeDescription)")
        }
        return members
    }

    /// Refuses any member not in `allowed` (a short list: a linear search costs less than hashing).
    func rejectUnknown(allowed: [String]) throws(ProtocolError) {
        for (key, _) in members where !allowed.contains(key) {
            throw .badRequest("unknown field \"\(key)\" in \(path)")
        }
    }
}
