/// One answer line of the socket protocol.
public struct Response: Sendable, Equatable {
    public var result: Result<[(String, JSONValue)], ProtocolError>

    public static func == (lhs: Response, rhs: Response) -> Bool {
        lhs.json(req: nil) == rhs.json(req: nil)
    }

    public init(fields: [(String, JSONValue)] = []) { result = .success(fields) }
    public init(error: ProtocolError) { result = .failure(error) }

    public static func success(_ fields: [(String, JSONValue)] = []) -> Response { Response(fields: fields) }
    public static func failure(_ error: ProtocolError) -> Response { Response(error: error) }
    public static func failure(_ code: ErrorCode, _ message: String) -> Response {
        Response(error: ProtocolError(code, message))
    }

    /// The answer object: `{"ok":true,"req":…,…}` or `{"ok":false,"req":…,"error":{"code":…,"message":…}}`.
    public func json(req: JSONValue?) -> JSONValue {
        var members: [(String, JSONValue)] = []
        switch result {
        case .success(let fields):
            members.append(("ok", true))
            if let req { members.append(("req", req)) }
            members.append(contentsOf: fields)
        case .failure(let error):
            members.append(("ok", false))
            if let req { members.append(("req", req)) }
            members.append(("error", ["code": .string(error.code.rawValue), "message": .string(error.message)]))
            for key in error.extra.keys.sorted() { members.append((key, error.extra[key]!)) }
        }
        return .object(members)
    }

    /// The answer as one line of bytes, newline included.
    public func line(req: JSONValue?) -> [UInt8] {
        var out = json(req: req).serialized()
        out.append(0x0A)
        return out
    }
}
