#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in time: milliseconds since the Unix epoch, UTC. This is what the outbox stores.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var seconds: Int64 { milliseconds.floorDivided(by: 1000) }

    public func adding(seconds: Double) -> Timestamp {
        Timestamp(milliseconds: milliseconds + Int64((seconds * 1000).rounded()))
    }

    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }

    /// Seconds from `other` to `self` (negative when `other` is later).
    public func seconds(since other: Timestamp) -> Double { Double(milliseconds - other.milliseconds) / 1000 }

    public var description: String { rfc3339 }

    /// RFC 3339 in UTC with second precision, e.g. `2026-11-30T12:04:05Z`.
    public var rfc3339: String {
        let c = CivilTime(seconds: seconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))Z"
    }

    /// RFC 5322 §3.3 date-time in UTC, e.g. `Mon, 30 Nov 2026 12:04:05 +0000`.
    public var rfc5322: String {
        // Written as bytes: string interpolation and padding cost about 6,000 instructions per message.
        let c = CivilTime(seconds: seconds)
        let weekday = Int(seconds.floorDivided(by: 86400).positiveModulo(7))
        var out: [UInt8] = []
        out.reserveCapacity(32)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            // Wider values keep all their digits.
            while divisor * 10 <= v { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(0x30 + v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        out.append(contentsOf: Self.weekdayNames[weekday * 3..<weekday * 3 + 3])
        out.append(contentsOf: [0x2C, 0x20])
        digits(c.day, 1)
        out.append(0x20)
        out.append(contentsOf: Self.monthNames[(c.month - 1) * 3..<(c.month - 1) * 3 + 3])
        out.append(0x20)
        digits(c.year, 4)
        out.append(0x20)
        digits(c.hour, 2)
        out.append(0x3A)
        digits(c.minute, 2)
        out.append(0x3A)
        digits(c.second, 2)
        out.append(contentsOf: " +0000".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    private static let weekdayNames = Array("ThuFriSatSunMonTueWed".utf8)  // 1970-01-01 was a Thursday
    private static let monthNames = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// Parses the RFC 3339 form this type writes (`YYYY-MM-DDTHH:MM:SSZ`).
    public init?(rfc3339 text: String) {
        let u = Array(text.utf8)
        guard u.count == 20, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u[19] == 0x5A
        else { return nil }
        func num(_ r: Range<Int>) -> Int? { Int(String(decoding: u[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60,
            s < 61
        else { return nil }
        let days = CivilTime.daysFromCivil(year: y, month: mo, day: d)
        self.init(seconds: Int64(days) * 86400 + Int64(h * 3600 + mi * 60 + s))
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Calendar fields of a UTC instant (Howard Hinnant's civil-from-days algorithm).
struct CivilTime {
    var year, month, day, hour, minute, second: Int

    init(seconds: Int64) {
        let days = Int(seconds.floorDivided(by: 86400))
        let secondOfDay = Int(seconds.positiveModulo(86400))
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }

    func positiveModulo(_ divisor: Int64) -> Int64 {
        let r = self % divisor
        return r < 0 ? r + divisor : r
    }
}

/// Where the current wall-clock time comes from; injected so schedulers can be tested without sleeping.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}

    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}

/// Seconds on the monotonic clock, for measuring durations and deadlines.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
