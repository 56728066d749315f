#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Config

/// `maild [--config PATH] [--check]` (SPEC §1).
@main
struct MaildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maild",
        abstract: "Mail-dispatch daemon: a durable outbox on a Unix socket, delivering to SMTP relays.",
        discussion: """
            Runs in the foreground and logs to stderr. SIGHUP reloads the configuration;
            SIGTERM and SIGINT stop it after the SMTP transactions in flight.

            Examples:
              maild --config /etc/maild/maild.toml
              maild --config /etc/maild/maild.toml --check
            """,
        version: Daemon.version)

    @Option(name: .long, help: "The global configuration file.")
    var config: String = "/etc/maild/maild.toml"

    @Flag(name: .long, help: "Validate the configuration, print the effective settings (secrets masked), and exit.")
    var check = false

    func run() throws {
        let environment = ProcessEnvironment.current()
        let configuration: Configuration
        do {
            configuration = try ConfigLoader.load(path: config, environment: environment)
        } catch {
            for issue in error.issues { printError("maild: \(issue)") }
            printError("maild: configuration invalid (\(error.issues.count) problem\(error.issues.count == 1 ? "" : "s"))")
            throw ExitCode(1)
        }
        if check {
            print(CheckReport.render(configuration), terminator: "")
            return
        }
        let status = Daemon.run(configuration: configuration, environment: environment)
        if status != 0 { throw ExitCode(status) }
    }
}

func printError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// The process environment as a dictionary.
enum ProcessEnvironment {
    static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}
