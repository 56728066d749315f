#if canImport(Glibc)
import Glibc
#endif
import Logging
import MailCore

extension ControlServer {
    /// The state of the poll thread.
    struct PollLoop<Handler: ControlHandler> {
        let server: ControlServer
        let handler: Handler
        var connections: [Int: ControlConnection] = [:]
        var nextID = 0
        var stopping = false
        var stopDeadline = Double.infinity
        /// While stopping with nothing owed: when to close.
        var quietUntil: Double?
        var scratch = [UInt8](repeating: 0, count: 65536)
        /// The server's access settings, read once per turn of the loop.
        var access: ControlServer.Access
        /// While out of file descriptors (or kernel memory) the listener is not polled until then: it
        /// stays readable, and polling it would spin. Waiting clients stay in the listen backlog.
        var acceptPausedUntil = 0.0
        /// The last warning about it, and how many pauses since (one warning a minute at most).
        var acceptWarnedAt = -Double.infinity
        var acceptPauses = 0

        init(server: ControlServer, handler: Handler) {
            self.server = server
            self.handler = handler
            access = server.access.current
        }

        /// Hands one request line to the handler with the way to answer it. Once the daemon is stopping,
        /// a request read while earlier answers are still owed is answered `unavailable` here, in its turn.
        func dispatch(_ line: [UInt8], on connection: ControlConnection) {
            let sequence = connection.nextSequence
            connection.nextSequence += 1
            if stopping {
                let (req, _) = Request.decode(line: line)
                connection.complete(
                    sequence: sequence,
                    line: Response.failure(ProtocolError(.unavailable, "maild is shutting down")).line(req: req))
                return
            }
            handler.handle(
                line: line, peer: connection.peer,
                reply: ControlReply(server: server, connection: connection.id, sequence: sequence))
        }

        /// Bytes held in the input of connections past `ControlConnection.smallInput` (long request lines
        /// still arriving), as of this turn of the loop.
        var largeInput = 0
        /// What long lines may hold in all: each client may send lines up to max_message_bytes, but many
        /// clients sending them slowly, or never finishing, must not take the daemon's memory with them.
        var inputBudget: Int { max(64 << 20, 2 * access.maxLineBytes) }

        /// Whether to read from `connection` now: it wants input, and either holds little, or long lines
        /// are within the budget (past it, they wait while short requests go on).
        func mayRead(_ connection: ControlConnection) -> Bool {
            connection.wantsInput && (connection.input.count < ControlConnection.smallInput || largeInput < inputBudget)
        }

        mutating func run() {
            var fds: [pollfd] = []
            var order: [ControlConnection] = []
            server.serving.set(true)
            while true {
                server.heartbeat.withLock { $0 = monotonicSeconds() }
                access = server.access.current
                if stopping {
                    // Done once every answer owed is written, or its client has not read for 2 s; then a
                    // short quiet spell in which late requests still get `unavailable`, not a reset.
                    let now = monotonicSeconds()
                    let owed = connections.values.contains {
                        $0.outstanding > 0
                            || (($0.hasOutput || $0.input.contains(0x0A)) && now - $0.lastProgress < 2)
                    }
                    if owed { quietUntil = nil } else if quietUntil == nil { quietUntil = now + 0.2 }
                    if let quietUntil, now >= quietUntil { break }
                    if now > stopDeadline { break }
                }
                largeInput = connections.values.reduce(0) {
                    $0 + ($1.input.count >= ControlConnection.smallInput ? $1.input.count : 0)
                }
                fds.removeAll(keepingCapacity: true)
                order.removeAll(keepingCapacity: true)
                fds.append(pollfd(fd: server.wakeFD, events: Int16(POLLIN), revents: 0))
                let acceptPaused = monotonicSeconds() < acceptPausedUntil
                fds.append(pollfd(fd: stopping || acceptPaused ? -1 : server.listener.fd, events: Int16(POLLIN), revents: 0))
                for connection in connections.values {
                    var events: Int32 = 0
                    if mayRead(connection) || connection.lingerUntil != nil { events |= Int32(POLLIN) }
                    if connection.hasOutput { events |= Int32(POLLOUT) }
                    fds.append(pollfd(fd: connection.fd, events: Int16(events), revents: 0))
                    order.append(connection)
                }
                var timeout: Int32 = 1000
                if acceptPaused { timeout = Int32(max(1, min(1000, (acceptPausedUntil - monotonicSeconds()) * 1000))) }
                if stopping { timeout = min(timeout, 50) }  // the quiet spell and stalled clients are timed
                let ready = poll(&fds, nfds_t(fds.count), timeout)
                if ready < 0 && errno != EINTR {
                    server.logger.error("poll failed", metadata: ["event": "control_poll_failed", "error": "\(errno)"])
                    break
                }
                if fds[0].revents != 0 { drainWakeups() }
                if fds[1].revents & Int16(POLLIN) != 0 { acceptClients() }
                for (i, connection) in order.enumerated() {
                    let revents = Int32(fds[i + 2].revents)
                    if revents == 0 || connections[connection.id] == nil { continue }
                    if connection.lingerUntil != nil {
                        discardInput(connection)
                        continue
                    }
                    if revents & Int32(POLLIN | POLLHUP | POLLERR) != 0 && mayRead(connection) {
                        readFrom(connection)
                    } else if revents & Int32(POLLERR | POLLHUP) != 0 {
                        // Gone while not read (its requests in work fill its room, or its long line waits for
                        // the budget): nothing can reach it now, and poll would report the hang-up at once
                        // on every turn. Answers of requests in work are dropped when they come.
                        drop(connection)
                        continue
                    }
                    if connection.hasOutput {
                        writeTo(connection)
                        if !connection.input.isEmpty { takeRequests(connection) }
                    }
                }
                let now = monotonicSeconds()
                for connection in Array(connections.values) {
                    if let until = connection.lingerUntil {
                        if now > until { drop(connection) }
                    } else if connection.isFinished {
                        if connection.closeWhenFlushed && !connection.readClosed {
                            shutdown(connection.fd, Int32(SHUT_WR))
                            connection.lingerUntil = now + 2
                        } else {
                            drop(connection)
                        }
                    }
                }
            }
            for connection in Array(connections.values) { drop(connection) }
            server.listener.unlinkPath()
        }

        mutating func drainWakeups() {
            var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            _ = read(server.wakeFD, &bytes, 32)
            let (completions, stop) = server.shared.withLock { state -> ([Completion], Bool) in
                let taken = state.completions
                state.completions.removeAll(keepingCapacity: true)
                return (taken, state.stopping)
            }
            for completion in completions {
                guard let connection = connections[completion.connection] else { continue }
                connection.complete(sequence: completion.sequence, line: completion.line)
                writeTo(connection)
                // Room again: requests read earlier and left waiting are taken now.
                if !connection.input.isEmpty { takeRequests(connection) }
            }
            if stop && !stopping {
                stopping = true
                // Answers still owed get a bounded time to be computed and written.
                stopDeadline = monotonicSeconds() + 30
                server.listener.unlinkPath()
            }
        }

        mutating func acceptClients() {
            while true {
                let fd = accept(server.listener.fd, nil, nil)
                if fd < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                        pauseAccepting(error)
                    } else if error != EAGAIN && error != EWOULDBLOCK && error != ECONNABORTED {
                        server.logger.warning(
                            "accept failed",
                            metadata: ["event": "control_accept_failed", "error": "\(String(cString: strerror(error)))"])
                    }
                    return
                }
                // accept4 is hidden behind _GNU_SOURCE in Glibc's module; set the flags by hand.
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                let peer = PeerCredentials.of(fd)
                let connection = ControlConnection(id: nextID, fd: fd, peer: peer)
                nextID += 1
                connections[connection.id] = connection
                if !isAllowed(peer) { refuse(connection) }
            }
        }

        /// Stops polling the listener for 100 ms after accept(2) ran out of descriptors or memory.
        mutating func pauseAccepting(_ error: Int32) {
            let now = monotonicSeconds()
            acceptPausedUntil = now + 0.1
            acceptPauses += 1
            guard now - acceptWarnedAt >= 60 else { return }
            server.logger.warning(
                "cannot accept clients; retrying every 100 ms",
                metadata: [
                    "event": "control_accept_paused", "error": "\(String(cString: strerror(error)))",
                    "connections": "\(connections.count)", "pauses": "\(acceptPauses)",
                ])
            acceptWarnedAt = now
            acceptPauses = 0
        }

        func isAllowed(_ peer: PeerCredentials?) -> Bool {
            if access.allowedUIDs.isEmpty { return true }
            guard let peer else { return false }
            return peer.uid == 0 || peer.uid == getuid() || access.allowedUIDs.contains(peer.uid)
        }

        /// The `forbidden` answer for a peer that is not (or, after a reload, no longer) allowed.
        /// Answers `forbidden` to the request `line` (its `req` echoed) and closes.
        func refuse(_ connection: ControlConnection, line: [UInt8]? = nil) {
            let uid = connection.peer.map { String($0.uid) } ?? "unknown"
            server.logger.notice("peer refused", metadata: ["event": "control_forbidden", "uid": "\(uid)"])
            answerAndClose(
                connection, ProtocolError(.forbidden, "uid \(uid) is not allowed to use this socket (see allowed_uids)"),
                req: line.flatMap { Request.decode(line: $0).0 })
        }

        func answerAndClose(_ connection: ControlConnection, _ error: ProtocolError, req: JSONValue? = nil) {
            let sequence = connection.nextSequence
            connection.nextSequence += 1
            connection.closeWhenFlushed = true
            connection.complete(sequence: sequence, line: Response.failure(error).line(req: req))
            writeTo(connection)
        }

        mutating func readFrom(_ connection: ControlConnection) {
            var total = 0
            // Past the budget for long lines, a connection reads only up to `smallInput`.
            let most = largeInput < inputBudget ? 1 << 20 : ControlConnection.smallInput - connection.input.count
            while total < most {
                let n = scratch.withUnsafeMutableBytes { raw in Glibc.read(connection.fd, raw.baseAddress, raw.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    drop(connection)
                    return
                }
                if n == 0 {
                    connection.readClosed = true
                    break
                }
                connection.input.append(contentsOf: scratch[0..<n])
                total += n
                if n < scratch.count { break }
            }
            takeRequests(connection)
        }

        /// Dispatches the complete request lines already read, as many as the connection takes now (see
        /// `ControlConnection.takesRequests`); the rest wait for its answers to go out.
        mutating func takeRequests(_ connection: ControlConnection) {
            guard connection.lingerUntil == nil, !connection.closeWhenFlushed else { return }
            let room = ControlConnection.maxOutstanding - connection.outstanding
            guard room > 0, connection.takesRequests else { return }
            let (lines, overLimit) = connection.takeLines(limit: access.maxLineBytes, maxLines: room)
            if !lines.isEmpty && !isAllowed(connection.peer) {
                connection.input = []
                connection.scanned = 0
                refuse(connection, line: lines[0])
                return
            }
            for line in lines { dispatch(line, on: connection) }
            if overLimit {
                connection.input = []
                connection.scanned = 0
                answerAndClose(
                    connection,
                    ProtocolError(.tooLarge, "request line exceeds max_message_bytes (\(access.maxLineBytes) bytes)"))
            } else if connection.readClosed && !connection.input.isEmpty && connection.scanned == connection.input.count
                && connection.takesRequests
            {
                // A last line without its newline: answer it too, as a line.
                dispatch(connection.input, on: connection)
                connection.input = []
                connection.scanned = 0
            }
        }

        /// Reads and drops what a lingering client still sends; closes at its EOF.
        mutating func discardInput(_ connection: ControlConnection) {
            for _ in 0..<16 {
                let n = scratch.withUnsafeMutableBytes { raw in Glibc.read(connection.fd, raw.baseAddress, raw.count) }
                if n > 0 { continue }
                if n < 0 && (errno == EINTR) { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
                drop(connection)
                return
            }
        }

        func writeTo(_ connection: ControlConnection) {
            while connection.hasOutput {
                let n = connection.output.withUnsafeBytes { raw in
                    send(connection.fd, raw.baseAddress! + connection.outputOffset, raw.count - connection.outputOffset,
                         Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return }
                    // The client went away: nothing more can be written to it.
                    connection.output = []
                    connection.outputOffset = 0
                    connection.readClosed = true
                    connection.closeWhenFlushed = true
                    return
                }
                connection.outputOffset += n
                connection.lastProgress = monotonicSeconds()
            }
        }

        mutating func drop(_ connection: ControlConnection) {
            guard connections.removeValue(forKey: connection.id) != nil else { return }
            close(connection.fd)
        }
    }
}
