import Foundation
import Logging
import MailCore
import SMTP

/// Runs `body` on a thread of its own: SMTPConnection blocks, and must not block Swift's
/// cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// What one session did: the open error, or each message's result.
struct SessionOutcome: Sendable {
    var openError: SMTPError?
    var results: [DeliveryResult] = []
    var transcript: [String] = []
    var capabilities: SMTPCapabilities?
    var usableAfterMessages = false
    var seconds: Double = 0
}

/// One message for `session`: the envelope and its data.
struct OutgoingMessage: Sendable {
    var envelope: Envelope
    var data: [UInt8]

    init(from sender: String = "sender@example.com", to recipients: [String], data: String, eightBit: Bool = false) {
        let bytes = Array(data.utf8)
        envelope = Envelope(
            sender: sender, recipients: recipients, size: bytes.count,
            needsSMTPUTF8: ([sender] + recipients).contains { $0.unicodeScalars.contains { !$0.isASCII } },
            has8BitData: eightBit || bytes.contains { $0 > 127 })
        self.data = bytes
    }
}

/// Opens a connection, sends each message in turn over it, and closes it, on a thread of its own.
func session(_ options: SMTPClientOptions, _ messages: [OutgoingMessage], logger: Logger = testLogger())
    async -> SessionOutcome
{
    await onThread {
        let transcript = Transcript()
        var outcome = SessionOutcome()
        let started = Date()
        do throws(SMTPError) {
            let connection = try SMTPConnection.open(options, logger: logger, transcript: transcript)
            outcome.capabilities = connection.capabilities
            for message in messages {
                outcome.results.append(connection.send(message.envelope, data: message.data))
            }
            outcome.usableAfterMessages = connection.isUsable
            connection.close()
        } catch {
            outcome.openError = error
        }
        outcome.seconds = Date().timeIntervalSince(started)
        outcome.transcript = transcript.lines
        return outcome
    }
}

/// Settings for a relay.py on 127.0.0.1 (or `host`).
func relaySettings(
    _ relay: RelayProcess, host: String = "127.0.0.1", security: TransportSecurity = .none, timeout: Int = 10,
    auth: (String, String)? = nil, tlsVerify: Bool = true, caFile: String? = nil, allowPlaintextAuth: Bool = false
) -> SMTPClientOptions {
    SMTPClientOptions(
        relay: RelaySettings(
            host: host, port: relay.port, security: security, timeout: timeout, auth: auth != nil,
            username: auth?.0 ?? "", password: Secret(auth?.1 ?? ""), tlsVerify: tlsVerify, caFile: caFile,
            allowPlaintextAuth: allowPlaintextAuth),
        heloName: "client.test")
}

/// A logger whose every line, at every level, is kept for inspection.
func testLogger(_ capture: LogCapture? = nil) -> Logger {
    Logger(label: "smtp-tests") { _ in
        var handler = CapturingLogHandler(capture: capture ?? LogCapture())
        handler.logLevel = .trace
        return handler
    }
}

final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    func append(_ line: String) { lock.withLock { storage.append(line) } }
    var lines: [String] { lock.withLock { storage } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append("\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// `leakableSockets` not in `baseline`, settled: other suites of this test process open sockets of their
/// own, and one caught between socket() and connect() looks like a leak for an instant. A real leak stays.
func settledLeakableSocketCount(ports: Set<Int>, baseline: Set<String> = []) async -> Int {
    var count = leakableSockets(ports: ports).subtracting(baseline).count
    for _ in 0..<40 where count > 0 {
        try? await Task.sleep(for: .milliseconds(50))
        count = leakableSockets(ports: ports).subtracting(baseline).count
    }
    return count
}

/// The inodes of the sockets of this process that an SMTP session to one of `ports` could leave open: TCP
/// sockets whose remote port is in `ports`, and sockets listed in no /proc/net table (a socket whose
/// connect failed). Unix sockets and TCP sockets to other ports, which tests of other targets running in
/// parallel in this process may open, do not count.
func leakableSockets(ports: Set<Int>) -> Set<String> {
    let fm = FileManager.default
    let inodes = ((try? fm.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { entry -> String? in
        guard let link = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry),
            link.hasPrefix("socket:[")
        else { return nil }
        return String(link.dropFirst(8).dropLast())
    }
    var remotePortOfInode: [String: Int] = [:]
    var listed = Set<String>()
    for table in ["tcp", "tcp6", "udp", "udp6", "unix"] {
        let text = (try? String(contentsOfFile: "/proc/net/" + table, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if table == "unix" {
                if fields.count > 6 { listed.insert(String(fields[6])) }
                continue
            }
            guard fields.count > 9 else { continue }
            let inode = String(fields[9])
            listed.insert(inode)
            if table.hasPrefix("tcp"), let port = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) {
                remotePortOfInode[inode] = port
            }
        }
    }
    return Set(inodes.filter { inode in
        if let port = remotePortOfInode[inode] { return ports.contains(port) }
        return !listed.contains(inode)
    })
}

/// A test message with lines that need dot-stuffing, ending in CRLF as MIME output does.
let sampleMessage =
    "From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: test\r\n\r\n"
    + "Hello.\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n"
