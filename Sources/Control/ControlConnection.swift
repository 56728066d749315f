import Glibc
import MailCore

/// One client of the control socket, owned by the poll thread: its unparsed input, and its answers
/// kept in request order (a client may send several requests without waiting; SPEC §3).
final class ControlConnection {
    let id: Int
    let fd: Int32
    let peer: PeerCredentials?

    /// Bytes read and not yet consumed as lines; `scanned` bytes of it are known to hold no newline.
    var input: [UInt8] = []
    var scanned = 0
    /// Answer bytes waiting to be written, from `outputOffset`.
    var output: [UInt8] = []
    var outputOffset = 0
    /// Sequence number of the next request, and of the next answer to write.
    var nextSequence: UInt64 = 0
    var nextToWrite: UInt64 = 0
    /// Answers that are ready but wait for an earlier one.
    var ready: [UInt64: [UInt8]] = [:]
    /// The client sent EOF; answer what it asked, then close.
    var readClosed = false
    /// Close once everything owed is written (after `too_large` or `forbidden`).
    var closeWhenFlushed = false
    /// After a fatal answer our side is shut down and the client's remaining input is read and discarded
    /// until it closes or this time passes: closing with unread input would send a reset, which can
    /// destroy the answer before the client reads it.
    var lingerUntil: Double?

    init(id: Int, fd: Int32, peer: PeerCredentials?) {
        self.id = id
        self.fd = fd
        self.peer = peer
    }

    /// Requests read whose answers are not written yet.
    var outstanding: Int { Int(nextSequence - nextToWrite) }
    var hasOutput: Bool { outputOffset < output.count }

    /// Requests of one connection being answered at once, at most (a client may pipeline; SPEC §3).
    static let maxOutstanding = 32
    /// Input below this is always read; past it, a connection's input counts against the poll loop's
    /// budget for long lines (`PollLoop.inputBudget`).
    static let smallInput = 64 << 10
    /// Answer bytes waiting for the client past which no more of its requests are taken.
    static let maxPendingOutput = 4 << 20

    /// Whether more of its requests may be taken: not while it owes many answers or has much unread
    /// output. A client that sends without reading its answers must not grow our memory: its requests
    /// wait, unread, in its socket and in `input`.
    var takesRequests: Bool {
        outstanding < ControlConnection.maxOutstanding && output.count - outputOffset < ControlConnection.maxPendingOutput
    }

    /// Whether to read more: not after EOF or a fatal answer, and only while it takes requests and has not
    /// much read and not yet taken. A line still incomplete is read on, up to `max_message_bytes`, where
    /// `takeLines` ends it with `too_large`.
    var wantsInput: Bool {
        !readClosed && !closeWhenFlushed && takesRequests && (input.count < 1 << 20 || scanned == input.count)
    }

    /// When its output last moved (an answer queued or bytes written): a stopping server stops waiting
    /// for a client that does not read.
    var lastProgress = monotonicSeconds()

    /// Done: nothing more to read, nothing owed, and no request read and left waiting for its turn.
    var isFinished: Bool {
        (readClosed || closeWhenFlushed) && outstanding == 0 && !hasOutput && (closeWhenFlushed || input.isEmpty)
    }

    /// Stores an answer and moves every answer that is now in order to the output.
    func complete(sequence: UInt64, line: [UInt8]) {
        ready[sequence] = line
        while let next = ready.removeValue(forKey: nextToWrite) {
            if outputOffset == output.count {
                output.removeAll(keepingCapacity: true)
                outputOffset = 0
            }
            output.append(contentsOf: next)
            nextToWrite += 1
            lastProgress = monotonicSeconds()
        }
    }

    /// Takes up to `maxLines` complete lines from the input (without their line ends). When the pending
    /// partial line exceeds `limit` bytes, returns `overLimit` and stops.
    func takeLines(limit: Int, maxLines: Int = .max) -> (lines: [[UInt8]], overLimit: Bool) {
        var lines: [[UInt8]] = []
        var start = 0
        var index = scanned
        let count = input.count
        var overLimit = false
        var more = false
        input.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else { return }
            // memchr finds each newline a word or a vector at a time; a byte loop cost ~7 instructions a byte.
            while index < count, let found = memchr(base + index, 0x0A, count - index) {
                if lines.count == maxLines {
                    more = true
                    return
                }
                let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                var end = newline
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                if end - start > limit {
                    overLimit = true
                    return
                }
                lines.append(Array(bytes[start..<end]))
                start = newline + 1
                index = newline + 1
            }
        }
        if overLimit { return (lines, true) }
        if start > 0 { input.removeFirst(start) }
        // Left untaken, the rest holds another line: scan it again next time.
        scanned = more ? 0 : input.count
        return (lines, !more && input.count > limit)
    }
}
