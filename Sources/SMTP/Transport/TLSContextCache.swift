import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS contexts shared by the connections with the same settings. Building one loads the system trust
/// store, about 50 ms of CPU here: per connection, that would bound an immediate company's TLS mail
/// to some twenty messages a second per core.
///
/// An entry is rebuilt after `lifetime` seconds (so an updated system trust store is picked up) and as
/// soon as its `ca_file` changes on disk. A context that cannot be built is not kept.
final class TLSContextCache: Sendable {
    static let shared = TLSContextCache()
    static let lifetime = 300.0

    private struct Key: Hashable {
        var verify: Bool
        var caFile: String
    }

    private struct Entry {
        var context: TLSContext
        var built: Double
        var stamp: FileStamp?
    }

    private let entries = Locked<[Key: Entry]>([:])

    func context(verify: Bool, caFile: String?) throws(TransportError) -> TLSContext {
        let key = Key(verify: verify, caFile: caFile ?? "")
        let stamp = key.caFile.isEmpty ? nil : FileStamp(path: key.caFile)
        let now = monotonicSeconds()
        if let entry = entries.withLock({ $0[key] }), now - entry.built < Self.lifetime, entry.stamp == stamp {
            return entry.context
        }
        // Built outside the lock: two connections may both build one; the later simply replaces the other.
        let context = try TLSContext(verify: verify, caFile: caFile)
        entries.withLock { $0[key] = Entry(context: context, built: now, stamp: stamp) }
        return context
    }
}

/// What tells a rewritten file from the one read before: device, inode, size and modification time.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    /// nil when the file cannot be examined (the context build then reports why).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
