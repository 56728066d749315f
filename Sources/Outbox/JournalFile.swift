import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One append-only file of the delivery journal: records of delivery outcomes, each
///
///     length (UInt32, little-endian) · FNV-1a 64 of the payload (UInt64) · payload
///     payload = seq · message · attempts before · at (milliseconds) (Int64 each) · the result
///     (`JournalCoding`)
///
/// A crash can leave a torn last record; reading stops at the first record that is short or whose
/// checksum does not match, and only records never acknowledged can be there.
final class JournalFile {
    let path: String
    private let descriptor: Int32
    /// Bytes in the file.
    private(set) var size: Int
    /// The seqs it holds (valid while `appended > 0`), and how many of its records the outbox applied.
    private(set) var firstSeq: Int64 = 0
    private(set) var lastSeq: Int64 = 0
    private(set) var appended = 0
    private(set) var applied = 0

    init(path: String) throws(SystemCallError) {
        self.path = path
        descriptor = try systemCall("open \(path)") {
            open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        }
        var status = stat()
        if fstat(descriptor, &status) != 0 {
            let error = SystemCallError(call: "fstat \(path)", errno: errno)
            close(descriptor)
            throw error
        }
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    var isEmpty: Bool { size == 0 }
    var isFullyApplied: Bool { applied == appended }

    func holds(_ seq: Int64) -> Bool { appended > 0 && seq >= firstSeq && seq <= lastSeq }

    /// Appends encoded records (one write) and makes them durable (fdatasync). On failure the file is
    /// cut back to where it was, so a later append does not follow a torn record.
    func append(_ bytes: [UInt8], seqs: ClosedRange<Int64>) throws(SystemCallError) {
        let before = size
        do throws(SystemCallError) {
            var written = 0
            while written < bytes.count {
                written += try systemCall("write \(path)") {
                    bytes.withUnsafeBytes { raw in write(descriptor, raw.baseAddress! + written, raw.count - written) }
                }
            }
            size += bytes.count
            try systemCall("fdatasync \(path)") { fdatasync(descriptor) }
        } catch {
            _ = ftruncate(descriptor, off_t(before))
            size = before
            throw error
        }
        if appended == 0 { firstSeq = seqs.lowerBound }
        lastSeq = seqs.upperBound
        appended += seqs.count
    }

    func markApplied(_ count: Int) { applied += count }

    /// Empties the file once everything in it is applied. Not synced: if a crash undoes it, the records
    /// are applied again at start-up, where each one no longer matches its claim and changes nothing.
    func truncate() throws(SystemCallError) {
        try systemCall("ftruncate \(path)") { ftruncate(descriptor, 0) }
        size = 0
        appended = 0
        applied = 0
    }

    /// Every intact record in the file, in file order, and how many bytes follow the last of them (a
    /// record torn by a crash, never acknowledged).
    func readAll() throws(SystemCallError) -> (records: [(seq: Int64, entry: JournalEntry)], discarded: Int) {
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let n = try systemCall("pread \(path)") {
                bytes.withUnsafeMutableBytes { raw in
                    pread(descriptor, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
                }
            }
            if n == 0 { break }
            offset += n
        }
        let (records, used) = Self.decode(bytes[..<offset])
        return (records, offset - used)
    }

    static let headerSize = 12
    static let fixedPayload = 32

    static func encode(seq: Int64, _ entry: JournalEntry, into out: inout [UInt8]) {
        var payload: [UInt8] = []
        payload.reserveCapacity(fixedPayload + 160)
        for value in [seq, entry.message, Int64(entry.attemptsBefore), entry.at.milliseconds] {
            payload.appendLittleEndian(value)
        }
        payload += JournalCoding.encode(entry.result)
        out.appendLittleEndian(UInt32(payload.count))
        out.appendLittleEndian(checksum(payload[...]))
        out += payload
    }

    /// The intact records at the start of `bytes`, and how many bytes they take.
    static func decode(_ bytes: ArraySlice<UInt8>) -> (records: [(seq: Int64, entry: JournalEntry)], used: Int) {
        var records: [(Int64, JournalEntry)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= headerSize {
            let length = Int(bytes.littleEndian(UInt32.self, at: offset))
            let sum = bytes.littleEndian(UInt64.self, at: offset + 4)
            let start = offset + headerSize
            guard length >= fixedPayload, bytes.endIndex - start >= length else { break }
            let payload = bytes[start..<start + length]
            guard checksum(payload) == sum,
                let result = JournalCoding.decode(Array(payload.dropFirst(fixedPayload)))
            else { break }
            let entry = JournalEntry(
                message: bytes.littleEndian(Int64.self, at: start + 8), attemptsBefore: Int(bytes.littleEndian(Int64.self, at: start + 16)),
                at: Timestamp(milliseconds: bytes.littleEndian(Int64.self, at: start + 24)), result: result)
            records.append((bytes.littleEndian(Int64.self, at: start), entry))
            offset = start + length
        }
        return (records, offset - bytes.startIndex)
    }


    /// FNV-1a, 64 bits: enough to tell a torn or stale record from a whole one.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }
}

/// Fixed-width integers in little-endian byte order, as the journal's records and results store them.
extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension ArraySlice where Element == UInt8 {
    /// The integer stored at `offset` (an index of this slice's base); the caller checks the bounds.
    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(self[offset + i]) << (8 * i) }
        return value
    }
}
