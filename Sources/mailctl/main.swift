#if canImport(Glibc)
import Glibc
#endif

/// `mailctl [--socket PATH] [--json] COMMAND …` (SPEC §1): options written before the command apply to it.
enum GlobalOptions {
    static func hoisted(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("--") {
            if first == "--socket", rest.count >= 2 {
                leading += ["--socket", rest[rest.startIndex + 1]]
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--socket=") || first == "--json" {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard let command = rest.first, !leading.isEmpty else { return arguments }
        return [command] + leading + Array(rest.dropFirst())
    }
}

// Invoked as `sendmail` (a symlink), or as `mailctl sendmail`, the arguments are sendmail's, which
// ArgumentParser cannot parse (-oi, -fSENDER): they are handled before it.
let invokedAs = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "mailctl"
let arguments = Array(CommandLine.arguments.dropFirst())
if invokedAs == "sendmail" {
    exit(Sendmail.run(arguments))
}
if invokedAs == "mailq" {
    exit(Sendmail.run(["-bp"] + arguments))
}
// `-h` is sendmail's hop count (`-h 30`), not help.
if arguments.first == "sendmail" && !arguments.contains("--help") {
    exit(Sendmail.run(Array(arguments.dropFirst())))
}
Mailctl.main(GlobalOptions.hoisted(arguments))
