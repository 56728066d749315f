import Config
import Logging
import MailCore
import Outbox
import SMTP

/// One delivery thread: takes jobs from the dispatcher and carries them out over SMTP, recording
/// each attempt in the outbox.
struct DeliveryWorker {
    /// Outcomes of one connection that may wait to be made durable while it goes on: before a message's
    /// data goes out, all but the last `unrecordedLimit - 1` earlier outcomes are durable, so a crash
    /// re-sends at most this many messages per connection (SPEC §4: those caught in delivery). With 1, each
    /// message waited for the previous one's fdatasync; 4 lets the journal gather a connection's outcomes
    /// with the others' (grouped dispatch measured 50 % faster, with a quarter of the fdatasyncs).
    static let unrecordedLimit = 4
    let dispatcher: Dispatcher
    private var reader: MessageDataReader?
    private var logger: Logger { dispatcher.logger }

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    mutating func run() {
        while let job = dispatcher.waitForJob() {
            if reader == nil {
                do {
                    reader = try dispatcher.outbox.makeDataReader()
                } catch {
                    logger.error("cannot open the outbox for reading", metadata: ["event": "reader_failed", "error": "\(error)"])
                }
            }
            var session = Session(worker: self)
            switch job {
            case .grouped(let key, let quota):
                // One message ahead: its MAIL, RCPT… and DATA can go out behind this one's data.
                let started = monotonicSeconds()
                var next = dispatcher.nextGrouped(key)
                var sent = 0
                while let (message, policy) = next {
                    sent += 1
                    next = sent < quota ? dispatcher.nextGrouped(key, started: started) : nil
                    let ahead = next.flatMap { $0.1.relay == policy.relay ? $0.0 : nil }
                    session.deliver(message, policy: policy, lane: key, ahead: ahead)
                    if let reason = session.laneDeferred, let (taken, _) = next {
                        // The relay is unreachable and the lane's mail was deferred: so is the one taken.
                        session.deferAll([taken], relay: policy.relay, reason: reason)
                        next = nil
                    }
                }
            case .immediate(let message, let policy):
                session.deliver(message, policy: policy, lane: nil)
            }
            // QUIT first: the relay's goodbye need not wait for our commit. An immediate job's connection
            // carries no next transaction, so its worker moves on while the outcome commits; a grouped
            // worker waits, so its next job cannot overtake an unrecorded acceptance.
            let grouped = if case .grouped = job { true } else { false }
            session.finish(waitingForRecord: grouped)
            dispatcher.jobFinished(job)
        }
    }

    /// One job's connection and the attempt whose record is still being committed.
    struct Session {
        let worker: DeliveryWorker
        var connection: SMTPConnection?
        var connectionRelay: RelaySettings?
        var transactions = 0
        /// One latch per attempt whose record is not yet durable, oldest first; each is set once its record is.
        var pendingRecords: [Latch<Bool>] = []
        /// Why the lane's mail was deferred, once its relay turned out unreachable.
        var laneDeferred: String?
        /// The next message's bytes, read with the current one's.
        var prefetched: (id: Int64, data: [UInt8])?

        init(worker: DeliveryWorker) {
            self.worker = worker
        }

        var dispatcher: Dispatcher { worker.dispatcher }
        var logger: Logger { worker.dispatcher.logger }

        /// Delivers `message`; `ahead` is the message this connection carries next, if any.
        mutating func deliver(
            _ message: ClaimedMessage, policy: RelayPolicy, lane: RelayKey?, ahead: ClaimedMessage? = nil
        ) {
            let started = monotonicSeconds()
            let relay = policy.relay
            let recipients = message.recipients.map(\.address)

            var retriedOnFreshConnection = false
            var data: [UInt8]?
            while true {
                if connection == nil || !connection!.isUsable || connectionRelay != relay {
                    closeConnection()
                    do {
                        connection = try SMTPConnection.open(options(relay), logger: logger)
                        connectionRelay = relay
                        dispatcher.relayReachable(relay)
                    } catch {
                        let result =
                            error.isPermanent
                            ? DeliveryResult.failedAll(relay: relay.endpoint, recipients: recipients, reason: error.reason)
                            : DeliveryResult.deferredAll(relay: relay.endpoint, recipients: recipients, reason: error.reason)
                        record(message, result: result, started: started, journaled: lane != nil)
                        if error.isLocal {
                            logger.warning(
                                "cannot open a connection: this host is out of file descriptors or memory",
                                metadata: ["event": "connect_local_failure", "relay": "\(relay.endpoint)", "reason": "\(error.reason)"])
                        } else if !error.isPermanent {
                            // The relay is unreachable: every message waiting for it would fail the same way now.
                            dispatcher.relayFailed(relay, reason: error.reason)
                            if let lane {
                                deferAll(dispatcher.drainLane(lane), relay: relay, reason: error.reason)
                                laneDeferred = error.reason
                            } else {
                                // Immediate mail claimed for it waits for connections that would fail too.
                                deferAll(dispatcher.drainImmediate(relay.key), relay: relay, reason: error.reason)
                            }
                        }
                        return
                    }
                }
                // Read only once the relay is there to take it: a dead relay costs no reads.
                if data == nil {
                    guard let bytes = loadData(message, ahead: ahead) else { return }
                    data = bytes
                }
                let reused = transactions > 0
                let start = connection!.beginTransaction(Self.envelope(message))
                // Before this message's data goes out, all but the last `unrecordedLimit - 1` outcomes of this
                // connection are durable: a crash can re-send at most `unrecordedLimit` of its messages.
                waitForRecords(leaving: DeliveryWorker.unrecordedLimit - 1)
                // An immediate job's connection carries this one message: QUIT goes with its data. A grouped
                // one's next message starts with it.
                let result =
                    start.finished
                    ?? connection!.finishTransaction(
                        start, data: data!, thenQuit: lane == nil, thenBegin: ahead.map(Self.envelope))
                transactions += 1
                // A reused connection that the relay closed (421, idle timeout) is retried once on a fresh one.
                if reused && !retriedOnFreshConnection && !connection!.isUsable && !result.uncertain
                    && result.recipients.allSatisfy({ if case .deferred = $0.disposition { true } else { false } })
                {
                    retriedOnFreshConnection = true
                    closeConnection()
                    continue
                }
                record(message, result: result, started: started, journaled: lane != nil)
                return
            }
        }

        /// The envelope of a claimed message: the same for its own transaction and when it is sent ahead.
        static func envelope(_ message: ClaimedMessage) -> Envelope {
            var envelope = Envelope(
                sender: message.envelopeFrom, recipients: message.recipients.map(\.address), size: message.size,
                needsSMTPUTF8: message.needsSMTPUTF8, has8BitData: message.has8BitData)
            envelope.prefersSMTPUTF8 = message.prefersSMTPUTF8
            return envelope
        }

        private func options(_ relay: RelaySettings) -> SMTPClientOptions {
            SMTPClientOptions(relay: relay, heloName: dispatcher.configuration.current.daemon.heloName)
        }

        /// The message's bytes; with `ahead`, that message's too, in the same read (kept for its turn).
        private mutating func loadData(_ message: ClaimedMessage, ahead: ClaimedMessage?) -> [UInt8]? {
            do {
                if let prefetched, prefetched.id == message.id {
                    self.prefetched = nil
                    return prefetched.data
                }
                prefetched = nil
                let ids = [message.id] + (ahead.map { [$0.id] } ?? [])
                if let found = try worker.reader?.data(ids: ids) {
                    if ids.count > 1, let next = found[1] { prefetched = (ids[1], next) }
                    if let data = found[0] { return data }
                }
                logger.warning("message data missing", metadata: ["event": "data_missing", "id": "\(message.id)"])
            } catch {
                logger.error("cannot read message", metadata: ["event": "read_failed", "id": "\(message.id)", "error": "\(error)"])
            }
            // Leave it for a later attempt rather than lose it.
            try? dispatcher.outbox.releaseBlocking(ids: [message.id])
            dispatcher.messagesFinished(1)
            return nil
        }

        /// Records an attempt; the commit completes in the background and `pendingRecord` is set after it.
        /// `journaled`: false for an immediate job's outcome, which nothing waits for: the connection carries no
        /// next message, so the outcome needs no journal's quick commit and goes straight to the outbox.
        private mutating func record(
            _ message: ClaimedMessage, result: DeliveryResult, started: Double, journaled: Bool = true
        ) {
            record([(message, result)], started: started, journaled: journaled)
        }

        private mutating func record(
            _ items: [(ClaimedMessage, DeliveryResult)], started: Double, journaled: Bool = true
        ) {
            waitForRecords(leaving: DeliveryWorker.unrecordedLimit - 1)
            guard !items.isEmpty else { return }
            let latch = Latch<Bool>()
            pendingRecords.append(latch)
            let config = dispatcher.configuration.current
            let logger = self.logger
            let dispatcher = self.dispatcher
            let duration = monotonicSeconds() - started
            dispatcher.outbox.record(
                items.map { (claim: $0.0, result: $0.1) }, policy: config.retry,
                jitter: { Double.random(in: 0.9...1.1) }, journaled: journaled,
                durable: { outcome in
                    if case .failure(let error) = outcome {
                        // The rows stay `sending`; they are due again at the next start (delivered at least once).
                        logger.error(
                            "cannot record attempt",
                            metadata: ["event": "record_failed", "id": "\(items[0].0.id)", "error": "\(error)"])
                    }
                    latch.set(true)
                },
                applied: { outcome in
                    // Held until the outbox shows it: outcomes waiting for the writer count against the
                    // scheduler's high-water mark, so a busy writer slows claims instead of piling them up.
                    dispatcher.messagesFinished(items.count)
                    guard case .success(let verdicts) = outcome else { return }
                    for ((message, result), verdict) in zip(items, verdicts) {
                        DeliveryLog.attempt(logger, message: message, result: result, verdict: verdict, duration: duration)
                    }
                })
        }

        /// Defers messages waiting for an unreachable relay (its whole lane), in small commits so enqueues
        /// are not held up behind one long transaction.
        mutating func deferAll(_ messages: [ClaimedMessage], relay: RelaySettings, reason: String) {
            let items = messages.map { message in
                (message, DeliveryResult.deferredAll(
                    relay: relay.endpoint, recipients: message.recipients.map(\.address), reason: reason))
            }
            var start = 0
            while start < items.count {
                let end = min(start + 64, items.count)
                record(Array(items[start..<end]), started: monotonicSeconds())
                start = end
            }
        }

        /// Waits until at most `count` records are still to be made durable.
        private mutating func waitForRecords(leaving count: Int) {
            while pendingRecords.count > count {
                _ = pendingRecords.removeFirst().wait()
            }
        }

        private mutating func closeConnection() {
            connection?.close()
            connection = nil
            connectionRelay = nil
            transactions = 0
        }

        mutating func finish(waitingForRecord: Bool) {
            closeConnection()
            if waitingForRecord { waitForRecords(leaving: 0) }
        }
    }
}
