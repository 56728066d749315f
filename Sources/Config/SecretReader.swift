#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// File access while loading one configuration file: resolves relative paths against the file's
/// directory, reads password files (expanding `$CREDENTIALS_DIRECTORY` for systemd's `LoadCredential=`),
/// and collects warnings.
/// A problem reading a file, worded for the administrator.
struct Problem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

final class SecretReader {
    let directory: String
    let environment: [String: String]
    private(set) var warnings: [String] = []
    let file: String

    init(file: String, environment: [String: String]) {
        self.file = file
        self.directory = FilePath.directory(of: file)
        self.environment = environment
    }

    func warn(_ key: String, _ text: String) {
        warnings.append("\(file): \(key) \(text)")
    }

    /// Expands `$CREDENTIALS_DIRECTORY` / `${CREDENTIALS_DIRECTORY}` and makes the path absolute.
    func resolve(_ path: String) -> String {
        var p = path
        for token in ["${CREDENTIALS_DIRECTORY}", "$CREDENTIALS_DIRECTORY"] where p.contains(token) {
            p = p.replacingAll(token, with: environment["CREDENTIALS_DIRECTORY"] ?? "")
        }
        return FilePath.resolve(p, relativeTo: directory)
    }

    /// A problem with a `ca_file`: unreadable, or without a PEM certificate (OpenSSL would refuse it at the
    /// first TLS connection, and every message for that relay would wait in the queue).
    func checkCertificates(_ path: String) -> String? {
        guard let bytes = FilePath.readFile(path, limit: 16 << 20) else {
            return "cannot read \(path): \(FilePath.readErrorText)"
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN CERTIFICATE-----") || text.contains("-----BEGIN TRUSTED CERTIFICATE-----")
        else {
            return "\(path) holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        }
        return nil
    }

    /// The first line of a password file. A file readable by group or others is a warning.
    func read(_ path: String) -> Result<Secret, Problem> {
        if path.contains("$CREDENTIALS_DIRECTORY") || path.contains("${CREDENTIALS_DIRECTORY}"),
            environment["CREDENTIALS_DIRECTORY"] == nil
        {
            return .failure(Problem("refers to $CREDENTIALS_DIRECTORY, which is not set (see LoadCredential= in systemd.exec)"))
        }
        let resolved = resolve(path)
        guard let bytes = FilePath.readFile(resolved, limit: 64 * 1024) else {
            return .failure(Problem("cannot read \(resolved): \(FilePath.readErrorText)"))
        }
        var st = stat()
        if stat(resolved, &st) == 0, st.st_mode & 0o044 != 0 {
            warnings.append(
                "\(file): password file \(resolved) is readable by group or others; make it maild's own with mode 0600 "
                    + "(chown maild: and chmod 600), or use LoadCredential= in the unit")
        }
        let firstLine = bytes.split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        var line = Array(firstLine)
        if line.last == 0x0D { line.removeLast() }
        guard !line.isEmpty else { return .failure(Problem("\(resolved) is empty")) }
        return .success(Secret(String(decoding: line, as: UTF8.self)))
    }
}

/// Small path and file helpers for configuration loading (blocking; called off the cooperative pool).
public enum FilePath {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `path` made absolute against `directory` (itself made absolute against the working directory),
    /// with `.` and `..` components removed, so logs and errors show plain paths.
    public static func resolve(_ path: String, relativeTo directory: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            let base = directory.hasPrefix("/") ? directory : ProcessDirectory.current() + "/" + directory
            full = base + "/" + path
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Reads a whole regular file, or nil (errno set; see `readErrorText`) when it cannot be read, is not a
    /// regular file, or exceeds `limit` bytes. A FIFO or a device is refused before any read: a path a
    /// client names (a `test` request's `ca_file`) must not block the reading thread or stream without end.
    /// `anyKind` (mailctl, reading its own user's files: `--text-file /dev/stdin`, a pipe) reads whatever
    /// the path is.
    public static func readFile(_ path: String, limit: Int, anyKind: Bool = false) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (anyKind ? 0 : O_NONBLOCK))
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        if !anyKind && status.st_mode & S_IFMT != S_IFREG {
            errno = status.st_mode & S_IFMT == S_IFDIR ? EISDIR : notRegular
            return nil
        }
        if Int(status.st_size) > limit {
            errno = EFBIG
            return nil
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit {
                errno = EFBIG
                return nil
            }
        }
    }

    /// The errno `readFile` leaves for a path that is neither a regular file nor a directory.
    static let notRegular = ENODEV

    /// Why the last `readFile` on this thread failed, from errno.
    public static var readErrorText: String {
        errno == notRegular ? "not a regular file" : String(cString: strerror(errno))
    }

    /// The `.toml` files of a directory, sorted; nil when the directory does not exist.
    public static func tomlFiles(in directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasSuffix(".toml") && !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// The process's working directory.
enum ProcessDirectory {
    static func current() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
