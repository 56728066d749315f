import ArgumentParser
import MailCore

/// `mailctl` — the operator's and scripts' client of maild (SPEC §5).
struct Mailctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailctl",
        abstract: "Talk to maild: send mail, test relay settings, inspect and manage the outbox.",
        discussion: """
            The socket is --socket, else $MAILD_SOCKET, else /run/maild/maild.sock.
            Invoked as `sendmail` (or `mailctl sendmail`), reads a message on stdin like sendmail(1).

            Examples:
              mailctl send --to ana@example.com --subject "Olá" --text "Tudo bem?"
              mailctl test --company acme --to admin@acme.example
              mailctl list --state deferred
              mailctl show 42
            """,
        version: "0.1.0",
        subcommands: [
            Send.self, Test.self, Status.self, List.self, Show.self, Retry.self, Cancel.self, Flush.self,
            Reload.self, Ping.self, SendmailHelp.self,
        ])
}

/// Placeholder so `mailctl help sendmail` documents the sendmail interface; the real parsing is done
/// before ArgumentParser sees the arguments (sendmail's flags are not POSIX-style).
struct SendmailHelp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendmail",
        abstract: "Read an RFC 5322 message on stdin and queue it, like sendmail(1).",
        discussion: """
            Usage: mailctl sendmail [-t] [-i] [-f SENDER] [-F NAME] [--company ID]
                                    [RECIPIENT...]
            (or invoke mailctl under the name `sendmail`; under `mailq` it lists the
            queue). Flags may be combined (-ti), as in Postfix.

              -t           take recipients from the To, Cc and Bcc headers (and
                           the arguments); Bcc is removed from the message
              -f SENDER    envelope sender (also -fSENDER, -r SENDER);
                           default: the From address
              -F NAME      full name for the From header added when the message
                           has none (From: NAME <SENDER>)
              -i, -oi      a line with a single "." does not end the message
              -q           deliver the queue now (every deferred message at once)
              -bp          list the mail not yet delivered (as mailq)
              -o*, -A -B -C -L -N -O -R -V -X -e -h -p (each with a value),
              -G -I -U -c -m -n -v -x     accepted and ignored
              --company ID the company (default: $MAILD_COMPANY)
            Input that does not begin with header fields is all body, as in Postfix.
            The socket is $MAILD_SOCKET, else /run/maild/maild.sock.
            Exit codes (sysexits.h): 0 queued; 64 usage; 65 the message was refused;
            66 no input; 69 maild is not running; 75 maild could not store it now
            (try again); 77 the socket does not let this user in.

            Examples:
              printf 'Subject: hi\\n\\nhello\\n' | \\
                  mailctl sendmail -f cron@acme.example ana@example.com
              mailctl sendmail -ti -f noreply@acme.example < message.eml
            """)

    @Argument(parsing: .allUnrecognized) var arguments: [String] = []

    func run() throws {
        throw ExitCode(Sendmail.run(Array(arguments)))
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that maild answers.", discussion: "Example:\n  mailctl ping")

    @OptionGroup var options: ClientOptions

    func run() throws {
        let answer = try perform(["op": "ping"], options)
        if !options.json {
            print("maild \(answer["version"]?.stringValue ?? "?") answers on \(Client.socketPath(options.socket))")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show queue counts, enabled companies and when the configuration was loaded.",
        discussion: "Example:\n  mailctl status")

    @OptionGroup var options: ClientOptions

    func run() throws {
        let answer = try perform(["op": "status"], options)
        guard !options.json else { return }
        var table = Table("STATE", "MESSAGES")
        for state in MessageState.allCases {
            table.add(state.rawValue, answer["queue"]?[state.rawValue]?.cell ?? "0")
        }
        print(table.render())
        let companies = answer["companies"]?.arrayValue?.compactMap(\.stringValue) ?? []
        print("")
        print("companies with their own relay: \(companies.isEmpty ? "none" : companies.joined(separator: ", "))")
        print("configuration loaded at:        \(answer["config_loaded_at"]?.cell ?? "-")")
        print("uptime:                         \(answer["uptime_s"]?.cell ?? "-") s")
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read every configuration file (all or nothing).",
        discussion: "Example:\n  mailctl reload")

    @OptionGroup var options: ClientOptions

    func run() throws {
        let answer = try perform(["op": "reload"], options)
        if !options.json { print("configuration reloaded (\(answer["companies"]?.cell ?? "0") company files)") }
    }
}

struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make every deferred message due now.", discussion: "Example:\n  mailctl flush")

    @OptionGroup var options: ClientOptions

    func run() throws {
        let answer = try perform(["op": "flush"], options)
        if !options.json {
            let count = answer["count"]?.intValue ?? 0
            print("\(count) deferred \(count == 1 ? "message is" : "messages are") due now")
        }
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a message that is not being sent yet.", discussion: "Example:\n  mailctl cancel 42")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The message id.") var id: String

    func run() throws {
        _ = try perform(["op": "cancel", "id": .string(id)], options)
        if !options.json { print("cancelled \(id)") }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a failed (or deferred) message again now, or every failed message.",
        discussion: "Examples:\n  mailctl retry 42\n  mailctl retry --failed")

    @OptionGroup var options: ClientOptions
    @Argument(help: "The message id.") var id: String?
    @Flag(name: .long, help: "Retry every failed message.") var failed = false

    func validate() throws {
        if id != nil && failed { throw ValidationError("give a message id or --failed, not both") }
        if id == nil && !failed { throw ValidationError("give a message id or --failed") }
    }

    func run() throws {
        let request: JSONValue = failed ? ["op": "retry", "state": "failed"] : ["op": "retry", "id": .string(id!)]
        let answer = try perform(request, options)
        if !options.json { print("requeued \(answer["count"]?.cell ?? "0") message(s)") }
    }
}
