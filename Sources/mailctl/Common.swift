#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Config
import MailCore

/// Options every command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "maild's socket (default: $MAILD_SOCKET, else /run/maild/maild.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print maild's answer as JSON, for scripts.")
    var json = false
}

/// Exit codes (sysexits.h where one fits).
enum ExitStatus {
    static let failed: Int32 = 1
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let unavailable: Int32 = 69
    static let software: Int32 = 70
    static let tempFail: Int32 = 75
    static let noPermission: Int32 = 77

    /// How a command ends when maild refuses its request with `code`: try again later when maild is
    /// stopping or its storage failed, no permission when the socket's `allowed_uids` leave this user out.
    static func refused(_ code: String?) -> Int32 {
        switch code {
        case "unavailable": return tempFail
        case "forbidden": return noPermission
        default: return failed
        }
    }
}

/// Sends one request; on an error answer prints it (or the JSON) and exits non-zero. Returns the answer.
func perform(_ request: JSONValue, _ options: ClientOptions) throws -> JSONValue {
    let answer: JSONValue
    do {
        answer = try exchange(request, socket: options.socket)
    } catch {
        printError("mailctl: \(error)")
        throw ExitCode(error.exitStatus)
    }
    if options.json {
        print(answer.jsonText)
        if answer["ok"]?.boolValue != true { throw ExitCode(ExitStatus.refused(answer["error"]?["code"]?.stringValue)) }
        return answer
    }
    if answer["ok"]?.boolValue != true {
        let code = answer["error"]?["code"]?.stringValue ?? "error"
        let message = answer["error"]?["message"]?.stringValue ?? "maild refused the request"
        printError("mailctl: \(JSONValue.printable(message)) (\(code))")
        if let errors = answer["errors"]?.arrayValue, errors.count > 1 {
            for error in errors { printError("  - \(JSONValue.printable(error.stringValue ?? error.jsonText))") }
        }
        if let transcript = answer["transcript"]?.arrayValue, !transcript.isEmpty {
            printError("transcript:")
            for line in transcript { printError("  \(JSONValue.printable(line.stringValue ?? ""))") }
        }
        throw ExitCode(ExitStatus.refused(code))
    }
    return answer
}

func printError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Reads a whole file, or exits with a clear error naming it.
func readWholeFile(_ path: String) throws -> [UInt8] {
    guard let bytes = FilePath.readFile(path, limit: 1 << 30, anyKind: true) else {
        printError("mailctl: cannot read \(path): \(FilePath.readErrorText)")
        throw ExitCode(ExitStatus.noInput)
    }
    return bytes
}

/// A whole file as UTF-8 text, or exits with a clear error naming it: a body in another encoding (Latin-1,
/// Windows-1252) would otherwise reach its readers with every accented letter replaced by U+FFFD.
func readTextFile(_ path: String) throws -> String {
    let bytes = try readWholeFile(path)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        let offset = firstInvalidUTF8(bytes) ?? 0
        printError(
            "mailctl: \(path) is not UTF-8 text (byte \(offset) is not valid UTF-8); "
                + "convert it first, e.g. iconv -f latin1 -t utf-8")
        throw ExitCode(ExitStatus.dataError)
    }
    return text
}

/// The offset of the first byte that does not begin or continue a valid UTF-8 sequence.
private func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
    var offset = 0
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): offset += UTF8.width(scalar)
        case .emptyInput: return nil
        case .error: return offset
        }
    }
}

/// Reads standard input to its end (or, for sendmail without -i, to a line holding only ".").
func readStandardInput(stopAtDot: Bool = false) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    guard stopAtDot else { return out }
    // A line with only "." ends the message (sendmail without -i / -oi).
    var lineStart = 0
    for i in 0..<out.count where out[i] == 0x0A {
        var line = out[lineStart..<i]
        if line.last == 0x0D { line = line.dropLast() }
        if line.count == 1 && line.first == UInt8(ascii: ".") { return Array(out[..<lineStart]) }
        lineStart = i + 1
    }
    if out.count - lineStart == 1 && out.last == UInt8(ascii: ".") { return Array(out[..<lineStart]) }
    return out
}
