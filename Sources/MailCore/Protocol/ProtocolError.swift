/// The error codes of the socket protocol (SPEC §3).
public enum ErrorCode: String, Sendable, CaseIterable {
    /// Not JSON, not an object, unknown op or field, wrong type.
    case badRequest = "bad_request"
    /// Bad address, no recipient, no body, CR or LF in a header, bad base64, forbidden header, bad company id.
    case invalidMessage = "invalid_message"
    /// The request line exceeds `max_message_bytes`.
    case tooLarge = "too_large"
    case notFound = "not_found"
    case configInvalid = "config_invalid"
    case smtpFailed = "smtp_failed"
    case forbidden
    /// The message's state does not allow it.
    case conflict
    /// Shutting down, or storage failure.
    case unavailable
}

/// A failed request: a code, a message a person can act on (never a secret), and any extra fields
/// of the answer (the transcript of a failed `test`, every error of a failed `reload`).
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var extra: [String: JSONValue]

    public init(_ code: ErrorCode, _ message: String, extra: [String: JSONValue] = [:]) {
        self.code = code
        self.message = message
        self.extra = extra
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func badRequest(_ message: String) -> ProtocolError { ProtocolError(.badRequest, message) }
    public static func invalidMessage(_ message: String) -> ProtocolError { ProtocolError(.invalidMessage, message) }
}
