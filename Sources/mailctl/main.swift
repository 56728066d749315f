#if canImport(Glibc)
import Glibc
#endif

// Invoked as `sendmail` (a symlink), or as `mailctl sendmail`, the arguments are sendmail's, which
// ArgumentParser cannot parse (-oi, -fSENDER): they are handled before it.
let invokedAs = CommandLine.arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "mailctl"
let arguments = Array(CommandLine.arguments.dropFirst())
if invokedAs == "sendmail" {
    exit(Sendmail.run(arguments))
}
if arguments.first == "sendmail" && !arguments.contains("--help") && !arguments.contains("-h") {
    exit(Sendmail.run(Array(arguments.dropFirst())))
}
Mailctl.main()
