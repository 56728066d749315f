import ArgumentParser
import Config
import MailCore

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a test e-mail with a company's settings, or with settings not saved yet.",
        discussion: """
            Connects to the relay, sets up TLS, authenticates and sends a test e-mail from the default
            sender to --to, then prints every command and reply (passwords masked).

            Examples:
              # the global [smtp] settings
              mailctl test --to admin@acme.example
              # acme's effective settings
              mailctl test --company acme --to admin@acme.example
              # a company file before saving it (its password_file is read by mailctl)
              mailctl test --settings new-acme.toml --to admin@acme.example
            """)

    @OptionGroup var options: ClientOptions
    @Option(name: .long, help: "Where to send the test e-mail.") var to: String
    @Option(name: .long, help: "Use this company's effective settings.") var company: String?
    @Option(name: .long, help: "Use the settings in this company-style TOML file.") var settings: String?

    func validate() throws {
        if company != nil && settings != nil { throw ValidationError("give --company or --settings, not both") }
    }

    func run() throws {
        var request: [(String, JSONValue)] = [("op", "test"), ("to", .string(to))]
        if let company { request.append(("company", .string(company))) }
        if let settings {
            do {
                request.append(("settings", try SettingsFile.json(path: settings)))
            } catch {
                for issue in error.issues { printError("mailctl: \(issue)") }
                throw ExitCode(ExitStatus.dataError)
            }
        }
        let answer = try perform(.object(request), options)
        guard !options.json else { return }
        for line in answer["transcript"]?.arrayValue ?? [] { print(JSONValue.printable(line.stringValue ?? "")) }
        print("")
        print("test e-mail accepted by \(answer["relay"]?.cell ?? "the relay") for \(to)")
        if let note = answer["note"]?.stringValue { print("note: \(note)") }
    }
}
