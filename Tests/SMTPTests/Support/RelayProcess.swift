import Foundation

/// A `Tests/Support/relay.py` process on 127.0.0.1: started, waited for (`READY <port>`), and always
/// stopped when released. Its records are read back from its maildir.
final class RelayProcess: @unchecked Sendable {
    let port: Int
    let maildir: String
    private let process: Process
    private let output: Pipe

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Support/relay.py").path

    init(_ arguments: [String], in directory: TemporaryDirectory, startTimeout: Double = 30) throws {
        maildir = directory.file("maildir-\(UUID().uuidString.prefix(8))")
        let stderrPath = maildir + ".stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let python = ProcessInfo.processInfo.environment["RELAY_PYTHON"] ?? "python3"
        process.arguments = [python, Self.script, "--host", "127.0.0.1", "--maildir", maildir] + arguments
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        do {
            port = try Self.readReady(output.fileHandleForReading.fileDescriptor, timeout: startTimeout)
        } catch {
            Self.stop(process)
            let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw HarnessError("relay.py did not start (\(error)): \(log)")
        }
    }

    deinit { stopProcess() }

    private func stopProcess() {
        Self.stop(process)
        try? output.fileHandleForReading.close()
    }

    /// SIGTERM, and SIGKILL if the relay is still there after 5 s (a runner thread's blocked signal
    /// mask is inherited by children; relay.py unblocks it, but a hang here would hang the suite).
    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Reads stdout until "READY <port>\n", waiting with poll so a stuck relay cannot hang the test.
    private static func readReady(_ fd: Int32, timeout: Double) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 256)
        while !text.contains("\n") {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw HarnessError("no READY line within \(timeout) s") }
            var fds = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(remaining * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { throw HarnessError("relay.py exited before READY") }
            text += String(decoding: buffer[..<n], as: UTF8.self)
        }
        let line = text.split(separator: "\n").first ?? ""
        guard line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
            throw HarnessError("unexpected first line \(line)")
        }
        return port
    }

    /// The messages recorded so far, oldest first.
    func messages() throws -> [RecordedMessage] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: maildir)) ?? []
        return try names.filter { $0.hasSuffix(".json") }.sorted().map { name in
            let base = maildir + "/" + String(name.dropLast(5))
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: base + ".json")))
            guard let meta = meta as? [String: Any] else { throw HarnessError("bad \(name)") }
            let data = try Data(contentsOf: URL(fileURLWithPath: base + ".eml"))
            return RecordedMessage(
                mailFrom: meta["mail_from"] as? String ?? "?", rcptTos: meta["rcpt_tos"] as? [String] ?? [],
                mailOptions: meta["mail_options"] as? [String] ?? [], session: meta["session"] as? Int ?? -1,
                tls: meta["tls"] as? Bool ?? false, authUser: meta["auth_user"] as? String, data: [UInt8](data))
        }
    }

    /// events.jsonl: one entry per connection and per command.
    func events() throws -> [RelayEvent] {
        let path = maildir + "/events.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError("bad event \(line)")
            }
            return RelayEvent(
                session: object["session"] as? Int ?? -1, event: object["event"] as? String ?? "",
                verb: object["verb"] as? String, argument: object["arg"] as? String, tls: object["tls"] as? Bool,
                serverName: object["server_name"] as? String)
        }
    }

    /// The commands the relay received, as "VERB arg".
    func commands() throws -> [String] {
        try events().compactMap { event in event.verb.map { "\($0) \(event.argument ?? "")" } }
    }
}

/// One message as relay.py recorded it.
struct RecordedMessage: Sendable, Equatable {
    var mailFrom: String
    var rcptTos: [String]
    var mailOptions: [String]
    var session: Int
    var tls: Bool
    var authUser: String?
    var data: [UInt8]
}

/// One line of relay.py's events.jsonl.
struct RelayEvent: Sendable, Equatable {
    var session: Int
    var event: String
    var verb: String?
    var argument: String?
    var tls: Bool?
    /// For "sni" events: the name the client sent, nil when it sent none.
    var serverName: String?
}
