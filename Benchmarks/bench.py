#!/usr/bin/env python3
"""maild's benchmarks (issue 7): measures maild side by side with its peers in the same run and
prints one table. Started by Benchmarks/run.sh (`make bench`), which installs Postfix and builds
loadgen first; see Benchmarks/README.md for what each figure means.

Everything runs on 127.0.0.1 and Unix sockets in one temporary directory; every process this
script starts is stopped when it ends, also on Ctrl-C, SIGTERM or an error. Postfix is started
only for its own measurements and always stopped.

Sizes come from the environment so that a quick run is possible:
    BENCH_MESSAGES   messages of the pipeline, enqueue and dispatch runs   (20000)
    BENCH_RUNS       runs of each measurement; the table shows medians      (3)
    BENCH_MEMORY     messages queued for the memory figure                  (100000)
    BENCH_BIG        messages queued for the start-up figure                (1000000)
    BENCH_SENDMAIL   messages injected by Postfix's sendmail per run        (1000)
    BENCH_SIZE       body bytes of each message                             (1024)
    BENCH_POSTFIX    0 skips the Postfix peers                              (1)
    BENCH_TMPDIR     where the temporary directory goes (a disk, not tmpfs) (/var/tmp)
    BENCH_KEEP       1 keeps the temporary directory (logs, databases)      (0)
--smoke runs a few hundred messages once, without Postfix, and relays into relay.py when
smtp-sink is not installed: the harness's own test (Tests/Integration/test_bench_smoke.py).
"""

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELAY_PY = ROOT / "Tests" / "Support" / "relay.py"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
RECIPIENT = "r@example.com"  # loadgen's recipient


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


class Stop(Exception):
    """Raised by the signal handler so that every `finally` runs and stops what it started."""


def on_signal(signum, _frame):
    raise Stop("stopped by signal %d" % signum)


# ---------------------------------------------------------------------------------------------
# Processes: every one is registered, so that one place can stop them all.

class Processes:
    def __init__(self):
        self.running = []
        self.stopping = []

    def start(self, argv, **kwargs):
        p = subprocess.Popen([str(a) for a in argv], **kwargs)
        self.running.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=60):
        """Signals `p` and waits for it; SIGKILL if it does not exit within `timeout` seconds."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log("pid %d ignored signal %d for %d s; killing it" % (p.pid, sig, timeout))
                p.kill()
                p.wait()
        if p in self.running:
            self.running.remove(p)
        return p.returncode

    def stop_later(self, p, on_exit):
        """SIGTERM now, wait in reap(): lets the smoke run go on while maild shuts down."""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        self.stopping.append((p, on_exit))

    def reap(self):
        for p, on_exit in self.stopping:
            on_exit(self.stop(p, timeout=240))
        self.stopping = []

    def stop_all(self):
        self.stopping = []
        for p in reversed(list(self.running)):
            self.stop(p, timeout=20)


PROCS = Processes()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_port():
    """A port bound but never listening: a connection to it is refused at once (an unreachable
    relay), and no other program can take it while the socket stays open."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# SMTP sinks: count the messages they received.

class SmtpSink:
    """Postfix's smtp-sink: accepts and discards; `-c` prints a running `mesg=N` counter."""

    def __init__(self, work, name, defer=False):
        self.port = free_port()
        self.out = work / ("%s.sink" % name)
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses to run as root without -u
        refuse = ["-r", "RCPT"] if defer else []  # 4xx to every RCPT: each message is tried and deferred
        self.process = PROCS.start([SMTP_SINK, *user, *refuse, "-c", "127.0.0.1:%d" % self.port, "1024"],
                                   stdout=open(self.out, "wb"), stderr=subprocess.DEVNULL)
        wait_for(lambda: self.process.poll() is not None or port_open(self.port), 10, "smtp-sink to listen")
        if self.process.poll() is not None:
            raise RuntimeError("smtp-sink exited with %s" % self.process.returncode)

    def count(self):
        with open(self.out, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 200))
            tail = f.read().decode("ascii", "replace")
        at = tail.rfind("mesg=")
        if at < 0:
            return 0
        digits = ""
        for ch in tail[at + 5:]:
            if not ch.isdigit():
                break
            digits += ch
        return int(digits or 0)

    def stop(self):
        PROCS.stop(self.process)


class RelaySink:
    """Tests/Support/relay.py (aiosmtpd): slow, but always there; the smoke run uses it when
    Postfix's smtp-sink is not installed. Counts the envelopes it wrote."""

    def __init__(self, work, name, python, defer=False):
        self.maildir = work / ("%s.relay" % name)
        self.maildir.mkdir()
        refuse = ["--rcpt-reply", "%s=451 4.3.0 try again later" % RECIPIENT] if defer else []
        self.process = PROCS.start([python, RELAY_PY, "--maildir", self.maildir, "--pipelining", *refuse],
                                   stdout=subprocess.PIPE, stderr=open(work / ("%s.relay.log" % name), "w"), text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("relay.py did not start: %r" % line)
        self.port = int(line.split()[1])

    def count(self):
        return sum(1 for e in os.scandir(self.maildir) if e.name.endswith(".json"))

    def stop(self):
        PROCS.stop(self.process)


def wait_count(sink, n, t0, stall=60.0, first=None):
    """Seconds from t0 until `sink` counted `n` messages; raises if the count stops moving for
    `stall` seconds (a stalled daemon must not hang the benchmark). `first`, a dict, gets "seconds":
    from t0 until the sink counted its first message."""
    last, moved = -1, time.monotonic()
    while True:
        c = sink.count()
        now = time.monotonic()
        if first is not None and c > 0 and "seconds" not in first:
            first["seconds"] = now - t0
        if c >= n:
            return now - t0
        if c != last:
            last, moved = c, now
        elif now - moved > stall:
            raise RuntimeError("the sink stalled at %d of %d messages for %.0f s" % (c, n, stall))
        time.sleep(0.01)


# ---------------------------------------------------------------------------------------------
# maild

class Maild:
    counter = 0

    def __init__(self, bench, port, group=True, min_delay=1, max_delay=None, directory=None, **daemon):
        Maild.counter += 1
        self.bench = bench
        self.dir = Path(directory or bench.work / ("maild-%d" % Maild.counter))
        self.dir.mkdir(exist_ok=True)
        (self.dir / "companies.d").mkdir(exist_ok=True)
        self.socket = self.dir / "maild.sock"
        self.process = None
        keys = dict(socket=str(self.socket), database=str(self.dir / "outbox.db"),
                    companies_dir=str(self.dir / "companies.d"), helo_name="maild.bench", log_level="warning")
        keys.update(daemon)
        self.configure(port, group, min_delay, max_delay, keys)

    def configure(self, port, group=True, min_delay=1, max_delay=None, daemon=None):
        daemon = daemon or self.daemon
        self.daemon = daemon
        text = ["[daemon]"] + ["%s = %s" % (k, toml(v)) for k, v in daemon.items()]
        text += ["", "[smtp]", 'host = "127.0.0.1"', "port = %d" % port, "timeout = 10",
                 "group = %s" % toml(group), "", "[sender]", 'address = "noreply@maild.bench"',
                 "", "[retry]", "min_delay = %d" % min_delay, "max_delay = %d" % (max_delay or max(min_delay, 2))]
        (self.dir / "maild.toml").write_text("\n".join(text) + "\n")

    def start(self, ready_timeout=600):
        """Starts maild with $NOTIFY_SOCKET and returns the seconds from exec to READY=1."""
        notify_path = self.dir / "notify.sock"
        if notify_path.exists():
            notify_path.unlink()
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        notify.settimeout(0.2)
        try:
            env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
            t0 = time.monotonic()
            self.process = PROCS.start([self.bench.bin / "maild", "--config", self.dir / "maild.toml"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=open(self.dir / "maild.log", "a"))
            deadline = t0 + ready_timeout
            while True:
                try:
                    data = notify.recv(4096)
                    if b"READY=1" in data.split(b"\n"):
                        return time.monotonic() - t0
                except socket.timeout:
                    pass
                if self.process.poll() is not None:
                    raise RuntimeError("maild exited with %s before READY:\n%s" % (self.process.returncode, self.log_tail()))
                if time.monotonic() > deadline:
                    raise RuntimeError("maild sent no READY=1 within %d s" % ready_timeout)
        finally:
            notify.close()
            notify_path.unlink(missing_ok=True)

    def request(self, obj, timeout=120):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket))
            s.sendall(json.dumps(obj).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("maild closed the connection")
                data += chunk
        return json.loads(data)

    def queue(self):
        answer = self.request({"op": "status"})
        if not answer.get("ok"):
            raise RuntimeError("status failed: %r" % answer)
        return answer["queue"]

    def flush(self):
        return self.request({"op": "flush"})

    def vmhwm_mb(self):
        """Peak resident set (VmHWM) in MB."""
        for line in Path("/proc/%d/status" % self.process.pid).read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return None

    def wal_mb(self):
        wal = self.dir / "outbox.db-wal"
        return wal.stat().st_size / 1e6 if wal.exists() else 0.0

    def stop(self, wait=True):
        """SIGTERM, and complain unless maild exits 0. With wait=False (smoke runs only: a maild
        shutting down in the background would disturb the next measurement) the exit is awaited
        at the end of the phase."""
        if self.process is None:
            return
        if wait:
            self.exited(PROCS.stop(self.process, timeout=240))
        else:
            PROCS.stop_later(self.process, self.exited)
        self.process = None

    def exited(self, code):
        if code != 0:
            self.bench.odd("maild exited %s on SIGTERM (%s)" % (code, self.dir.name))

    def log_tail(self, n=20):
        path = self.dir / "maild.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


def toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))


# ---------------------------------------------------------------------------------------------
# Postfix as a null client relaying to a sink (PEERS.md)

class Postfix:
    def __init__(self, bench):
        self.bench = bench
        self.started = False
        self.relay_port = None

    @staticmethod
    def available():
        return all(os.access(p, os.X_OK) for p in (POSTFIX, SENDMAIL, SMTP_SINK, SMTP_SOURCE))

    def postconf(self, *settings):
        subprocess.run(["postconf", "-e", *settings], check=True, capture_output=True)

    def running(self):
        return subprocess.run([POSTFIX, "status"], capture_output=True).returncode == 0

    def start(self, relay_port):
        if self.running():
            # Nothing else on this machine uses Postfix; one left running is a crashed run's.
            log("Postfix was running; stopping it first")
            subprocess.run([POSTFIX, "stop"], capture_output=True)
        self.postconf("mydestination =", "local_transport = error:local delivery disabled", "alias_maps =",
                      "alias_database =", "inet_interfaces = loopback-only", "smtp_dns_support_level = disabled",
                      "maillog_file = /var/log/postfix.log", "relayhost = [127.0.0.1]:%d" % relay_port)
        subprocess.run(["postconf", "-M#", "local/unix"], check=True, capture_output=True)
        subprocess.run(["/usr/lib/postfix/configure-instance.sh", "-"], capture_output=True)
        self.purge()
        self.started = True
        result = subprocess.run([POSTFIX, "start"], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("postfix start failed: %s%s" % (result.stdout, result.stderr))
        wait_for(lambda: port_open(25), 30, "Postfix to listen on port 25", interval=0.1)
        self.relay_port = relay_port

    def relay_to(self, port):
        if port != self.relay_port:
            self.postconf("relayhost = [127.0.0.1]:%d" % port)
            subprocess.run([POSTFIX, "reload"], check=True, capture_output=True)
            self.relay_port = port
            time.sleep(1)  # the reload restarts qmgr and the smtp clients asynchronously

    def purge(self):
        subprocess.run(["postsuper", "-d", "ALL"], capture_output=True)

    def queue_size(self):
        out = subprocess.run(["postqueue", "-j"], capture_output=True, text=True).stdout
        return len([line for line in out.splitlines() if line.strip()])

    def stop(self):
        if self.started:
            subprocess.run([POSTFIX, "stop"], capture_output=True)
            self.purge()
            self.started = False


def sendmail_inject(message_path, count, callers):
    """`count` calls of Postfix's sendmail, `callers` at a time; returns (seconds, failures)."""

    def one(_):
        with open(message_path, "rb") as f:
            return subprocess.run([SENDMAIL, "-f", "s@example.com", "r@example.com"], stdin=f,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(callers) as pool:
        codes = list(pool.map(one, range(count)))
    return time.monotonic() - t0, sum(1 for c in codes if c != 0)


# ---------------------------------------------------------------------------------------------
# The benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = Path(args.bin).resolve()
        self.loadgen = Path(args.loadgen).resolve()
        self.python = args.python or sys.executable
        env = os.environ
        smoke = args.smoke
        self.messages = int(env.get("BENCH_MESSAGES", 300 if smoke else 20000))
        self.runs = int(env.get("BENCH_RUNS", 1 if smoke else 3))
        self.memory_n = int(env.get("BENCH_MEMORY", 500 if smoke else 100000))
        self.big_n = int(env.get("BENCH_BIG", 1000 if smoke else 1000000))
        self.sendmail_n = int(env.get("BENCH_SENDMAIL", 1000))
        self.size = int(env.get("BENCH_SIZE", 1024))
        self.fill_chunk = int(env.get("BENCH_FILL_CHUNK", 100000))  # messages per loadgen run while filling
        self.fill_budget = int(env.get("BENCH_FILL_BUDGET", 600))  # seconds; keeps a full run bounded
        self.use_postfix = not smoke and env.get("BENCH_POSTFIX", "1") != "0" and Postfix.available()
        sink = env.get("BENCH_SINK", "auto")  # auto | relay: relay.py even where smtp-sink is installed
        self.smtp_sink = sink != "relay" and os.access(SMTP_SINK, os.X_OK) and os.access(SMTP_SOURCE, os.X_OK)
        self.results = {}   # name -> list of values, one per run
        self.checks = []    # (what, ok, detail): counts that must match
        self.notes = []     # odd things seen
        self.work = None

    # -- bookkeeping

    def add(self, name, value):
        self.results.setdefault(name, []).append(value)

    def check(self, what, ok, detail=""):
        self.checks.append({"what": what, "ok": bool(ok), "detail": detail})
        if not ok:
            log("CHECK FAILED: %s %s" % (what, detail))

    def odd(self, text):
        log("note: " + text)
        self.notes.append(text)

    def sink(self, name, defer=False):
        """A sink counting what it receives; with `defer`, one answering 4xx to every recipient."""
        if self.smtp_sink:
            return SmtpSink(self.work, name, defer)
        return RelaySink(self.work, name, self.python, defer)

    def loadgen_run(self, socket_path, clients, messages, rate=None, window=None):
        argv = [self.loadgen, "enqueue", "--socket", socket_path, "--clients", clients, "--messages", messages,
                "--size", self.size]
        if rate:
            argv += ["--rate", "%.1f" % rate]
        if window:
            argv += ["--window", window]
        p = PROCS.start(argv, stdout=subprocess.PIPE, text=True)
        out, _ = p.communicate()
        PROCS.running.remove(p)
        result = json.loads(out.strip().splitlines()[-1])
        if result["errors"]:
            self.odd("loadgen: %d errors with %d clients, first: %s" % (result["errors"], clients, result["first_error"]))
        return result

    def maild_counts_match(self, d, what, sent):
        """After a delivery run: the sink and maild agree that every message went exactly once."""
        q = wait_for(lambda: (lambda q: q if q["sent"] >= sent else None)(d.queue()), 30,
                     "maild to mark %d messages sent" % sent, interval=0.1)
        self.check(what + ": maild marked every message sent", q["sent"] == sent and q["failed"] == 0,
                   "queue %s" % q)
        return q

    # -- measurements

    def run(self):
        base = os.environ.get("BENCH_TMPDIR", "/var/tmp")
        self.work = Path(tempfile.mkdtemp(prefix="maild-bench.", dir=base))
        if len(str(self.work)) > 60:  # + "/dispatch-immediate-0/maild.sock.PID.tmp" must fit in sun_path
            shutil.rmtree(self.work)
            raise RuntimeError("BENCH_TMPDIR %s is too long for Unix socket paths" % base)
        log("work directory %s; %d messages, %d runs%s" % (self.work, self.messages, self.runs,
                                                            "" if self.use_postfix else ", no Postfix"))
        self.started = time.monotonic()
        postfix = Postfix(self)
        try:
            phases = [self.ceiling, self.limits, self.enqueue, self.pipeline, self.dispatch, self.memory]
            if self.use_postfix:
                phases.append(lambda: self.postfix_peers(postfix))
                phases[-1].__name__ = "postfix_peers"
            only = os.environ.get("BENCH_PHASES")  # e.g. "enqueue,dispatch": while working on one figure
            if only:
                phases = [p for p in phases if p.__name__ in only.split(",")]
            for phase in phases:
                t0 = time.monotonic()
                phase()
                log("%s took %.0f s" % (phase.__name__, time.monotonic() - t0))
            PROCS.reap()
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, signal.SIG_IGN)
            PROCS.stop_all()
            postfix.stop()
            self.seconds = time.monotonic() - self.started
            if os.environ.get("BENCH_KEEP") == "1":
                log("kept %s" % self.work)
            else:
                shutil.rmtree(self.work, ignore_errors=True)

    def ceiling(self):
        """The generator against a server that answers at once: what it can measure at most."""
        path = self.work / "serve.sock"
        server = PROCS.start([self.loadgen, "serve", "--socket", path], stdout=subprocess.PIPE, text=True)
        try:
            server.stdout.readline()
            for _ in range(self.runs):
                r = self.loadgen_run(path, 16, self.messages * (1 if self.args.smoke else 5))
                self.add("ceiling_16", r["rate"])
        finally:
            PROCS.stop(server)

    def limits(self):
        """The disk's fsync rate and SQLite's commit rate, on the file system maild's outbox is on."""
        seconds = "0.5" if self.args.smoke else "3"
        for _ in range(self.runs):
            # Bounded by time, not count: the rate of a shared disk swings by 10x within minutes.
            probe = ["--dir", self.work, "--seconds", seconds, "--count", "1000000"]
            f = json.loads(subprocess.run([self.loadgen, "fsync", *probe], capture_output=True, text=True,
                                          check=True).stdout)
            s = json.loads(subprocess.run([self.loadgen, "sqlite", *probe], capture_output=True, text=True,
                                          check=True).stdout)
            self.add("fsync_rate", f["rate"])
            self.add("sqlite_commit_rate", s["commit_rate"])
            self.add("sqlite_batch_rate", s["batch_row_rate"])

    def enqueue(self):
        """Durable enqueue with the relay unreachable: each run a fresh maild and outbox."""
        sock, port = dead_port()
        try:
            for run in range(self.runs):
                # A fresh maild and outbox for each client count: the outbox's size changes the rate.
                for clients, n in ((1, max(self.messages // 4, 100)), (16, self.messages), (64, self.messages)):
                    d = Maild(self, port, group=True, min_delay=86400)
                    d.start()
                    if clients == 1:
                        self.add("rss_idle", d.vmhwm_mb())
                    r = self.loadgen_run(d.socket, clients, n)
                    self.check("enqueue %d clients: every message acknowledged" % clients, r["count"] == n and not r["errors"],
                               "%d of %d, %d errors" % (r["count"], n, r["errors"]))
                    self.add("enqueue_%d" % clients, r["rate"])
                    self.add("enqueue_%d_p50" % clients, r["p50_ms"])
                    self.add("enqueue_%d_p99" % clients, r["p99_ms"])
                    q = d.queue()
                    self.check("enqueue: maild holds every acknowledged message", sum(q.values()) == r["count"],
                               "queue %s, acked %d" % (q, r["count"]))
                    d.stop(wait=not self.args.smoke)
            # Half the median 16-client rate, paced: the latency a client sees when maild is not saturated.
            half = median(self.results["enqueue_16"]) / 2
            n = int(min(self.messages, max(half * 5, 200)))
            for run in range(self.runs):
                d = Maild(self, port, group=True, min_delay=86400)
                d.start()
                r = self.loadgen_run(d.socket, 16, n, rate=half)
                self.check("paced enqueue: every message acknowledged", r["count"] == n and not r["errors"])
                self.add("enqueue_half_rate", r["rate"])
                self.add("enqueue_half_p50", r["p50_ms"])
                self.add("enqueue_half_p99", r["p99_ms"])
                d.stop(wait=not self.args.smoke)
        finally:
            sock.close()

    def pipeline(self):
        """16 clients enqueue N messages; maild (grouped, shipped connection limits) delivers them to
        the sink; the figure is N over the time from the first enqueue until the sink counted the last."""
        n = self.messages
        for run in range(self.runs):
            sink = self.sink("pipeline-%d" % run)
            try:
                d = Maild(self, sink.port, group=True)
                d.start()
                t0 = time.monotonic()
                r = self.loadgen_run(d.socket, 16, n)
                enqueued = time.monotonic() - t0
                first = {}
                seconds = wait_count(sink, n, t0, first=first)
                self.add("pipeline", n / seconds)
                # Grouped mail waits for the 2-second tick (SPEC §4): this shows how much of the time
                # went by before the first delivery.
                self.add("pipeline_first", first.get("seconds", seconds))
                self.add("pipeline_enqueue", r["rate"])
                self.add("pipeline_enqueue_seconds", enqueued)
                self.maild_counts_match(d, "pipeline", n)
                time.sleep(0.3)
                self.check("pipeline: the sink got each message once", sink.count() == n, "sink %d of %d" % (sink.count(), n))
                self.add("rss_pipeline", d.vmhwm_mb())
                d.stop(wait=not self.args.smoke)
            finally:
                sink.stop()

    def fill_deferred(self, d, n, what):
        """Enqueues n messages into `d`, whose relay defers every recipient, and waits until each had its
        first attempt: none is due again for a day. (A relay that refuses connections would not do: maild
        probes a dead relay once a minute and leaves the rest of its mail queued meanwhile.)"""
        r = self.loadgen_run(d.socket, 16, n)
        self.check("%s: every message acknowledged" % what, r["count"] == n and not r["errors"])
        wait_for(lambda: d.queue()["deferred"] >= n, 600, "the %s messages to be deferred" % what, interval=0.5)

    def prefill(self, n, name):
        """An outbox of n deferred messages (retry a day away); maild stopped. Returns its directory."""
        sink = self.sink(name + "-refusing", defer=True)
        try:
            d = Maild(self, sink.port, group=True, min_delay=86400, directory=self.work / name)
            d.start()
            self.fill_deferred(d, n, "prefill " + name)
            d.stop()
        finally:
            sink.stop()
        return d.dir

    def copy_outbox(self, source, target):
        target.mkdir()
        for f in source.glob("outbox.db*"):
            shutil.copy2(f, target / f.name)

    def dispatch(self):
        """From a pre-filled outbox of N deferred messages: start maild on a copy with the sink up,
        `flush`, and time until the sink counted N. Grouped and immediate, 8 connections."""
        n = self.messages
        template = self.prefill(n, "outbox-%d" % n)
        for run in range(self.runs):
            for mode, group in (("grouped", True), ("immediate", False)):
                sink = self.sink("dispatch-%s-%d" % (mode, run))
                try:
                    directory = self.work / ("dispatch-%s-%d" % (mode, run))
                    self.copy_outbox(template, directory)
                    d = Maild(self, sink.port, group=group, directory=directory, max_connections=8, relay_connections=8)
                    d.start()
                    t0 = time.monotonic()
                    flushed = d.flush()
                    self.check("dispatch %s: flush made every message due" % mode, flushed.get("count") == n, str(flushed))
                    seconds = wait_count(sink, n, t0)
                    self.add("dispatch_" + mode, n / seconds)
                    self.maild_counts_match(d, "dispatch " + mode, n)
                    time.sleep(0.3)
                    self.check("dispatch %s: the sink got each message once" % mode, sink.count() == n,
                               "sink %d of %d" % (sink.count(), n))
                    d.stop(wait=not self.args.smoke)
                finally:
                    sink.stop()
            if self.smtp_sink:
                for mode, reuse in (("source_reuse", True), ("source_single", False)):
                    sink = self.sink("%s-%d" % (mode, run))
                    try:
                        argv = [SMTP_SOURCE] + (["-d"] if reuse else []) + [
                            "-s", "8", "-m", n, "-l", self.size, "-f", "s@example.com", "-t", "r@example.com",
                            "-M", "localhost", "127.0.0.1:%d" % sink.port]
                        t0 = time.monotonic()
                        p = PROCS.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        seconds = wait_count(sink, n, t0)
                        p.wait(60)
                        PROCS.running.remove(p)
                        self.add(mode, n / seconds)
                    finally:
                        sink.stop()
        shutil.rmtree(template, ignore_errors=True)

    def memory(self):
        """Peak RSS with BENCH_MEMORY queued (while filling, and after a restart with all of them made
        due and tried again), and exec-to-READY with BENCH_BIG queued."""
        sink = self.sink("memory-refusing", defer=True)
        try:
            d = Maild(self, sink.port, group=True, min_delay=86400, directory=self.work / "big")
            d.start()
            self.fill_deferred(d, self.memory_n, "memory fill")
            self.add("rss_memory_fill", d.vmhwm_mb())
            self.add("wal_memory_fill", d.wal_mb())
            d.stop()
            self.add("ready_memory", d.start())
            t0 = time.monotonic()
            flushed = d.flush()
            self.check("memory: flush made every message due", flushed.get("count") == self.memory_n, str(flushed))
            # All are due at the same moment, so they are claimed in id order: once the first and the last
            # had their second attempt and nothing is being sent, every message was tried again.
            def tried_again():
                for i in (1, self.memory_n):
                    if len(d.request({"op": "show", "id": str(i)})["message"]["attempts"]) < 2:
                        return False
                return d.queue()["sending"] == 0
            wait_for(tried_again, 600, "the flushed messages to be tried again", interval=0.5)
            self.add("memory_redefer_seconds", time.monotonic() - t0)
            self.add("rss_memory_due", d.vmhwm_mb())
            d.stop()
        finally:
            sink.stop()
        # The rest of the big outbox: the relay unreachable, so the mail just waits queued.
        sock, port = dead_port()
        try:
            d.configure(port, group=True, min_delay=86400)
            d.start()
            filled = self.memory_n
            t0 = time.monotonic()
            if filled < self.big_n:
                log("filling the outbox up to %d messages" % self.big_n)
            while filled < self.big_n:
                if time.monotonic() - t0 > self.fill_budget:
                    self.odd("the big outbox was filled to %d of %d messages in the BENCH_FILL_BUDGET of %d s; "
                             "start-up was measured with %d" % (filled, self.big_n, self.fill_budget, filled))
                    self.big_n = filled
                    break
                k = min(self.fill_chunk or self.big_n, self.big_n - filled)
                # 16 clients with 16 requests in flight each: bigger group commits (a fixture, not a figure).
                r = self.loadgen_run(d.socket, 16, k, window=16)
                self.check("big fill: every message acknowledged", r["count"] == k and not r["errors"])
                self.add("big_fill_rate", r["rate"])
                filled += k
                log("%d queued, %.0f/s, WAL file %.0f MB" % (filled, r["rate"], d.wal_mb()))
            if filled > self.memory_n:
                log("filled %d messages in %.0f s" % (filled, time.monotonic() - t0))
            d.stop()
            for run in range(self.runs):
                self.add("ready_big", d.start())
                q = d.queue()
                self.check("start-up: maild holds the big outbox", sum(q.values()) == self.big_n, "queue %s" % q)
                time.sleep(1)
                self.add("rss_big_idle", d.vmhwm_mb())
                d.stop(wait=not self.args.smoke)
        finally:
            sock.close()

    def postfix_peers(self, postfix):
        """Postfix as a null client: sendmail injection with the relay unreachable (1, 16, 64 callers);
        fed by smtp-source (8 sessions) and by sendmail (16 callers) relaying to smtp-sink."""
        n = self.messages
        message = self.work / "message.eml"
        body = "".join(("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 2)[:72] + "\n"
                       for _ in range(self.size // 73 + 1))[:self.size]
        message.write_text("From: s@example.com\nTo: r@example.com\nSubject: benchmark\n\n" + body + "\n")
        sock, port = dead_port()
        try:
            postfix.start(port)
            for run in range(self.runs):
                for callers in (1, 16, 64):
                    count = max(self.sendmail_n // 5, 50) if callers == 1 else self.sendmail_n
                    seconds, failures = sendmail_inject(message, count, callers)
                    self.check("sendmail x%d: every call succeeded" % callers, failures == 0, "%d failed" % failures)
                    self.add("sendmail_%d" % callers, count / seconds)
                    postfix.purge()
        finally:
            sock.close()
        for run in range(self.runs):
            sink = self.sink("postfix-smtp-%d" % run)
            try:
                postfix.relay_to(sink.port)
                argv = [SMTP_SOURCE, "-d", "-s", "8", "-m", n, "-l", self.size, "-f", "s@example.com",
                        "-t", "r@example.com", "-M", "localhost", "127.0.0.1:25"]
                t0 = time.monotonic()
                p = PROCS.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                p.wait(1800)
                PROCS.running.remove(p)
                accepted = time.monotonic() - t0
                seconds = wait_count(sink, n, t0, stall=120)
                self.add("postfix_smtp_accept", n / accepted)
                self.add("postfix_smtp", n / seconds)
                time.sleep(0.3)
                self.check("Postfix via SMTP: the sink got each message once", sink.count() == n, "sink %d" % sink.count())
            finally:
                sink.stop()
                postfix.purge()
            sink = self.sink("postfix-sendmail-%d" % run)
            try:
                postfix.relay_to(sink.port)
                count = self.sendmail_n
                t0 = time.monotonic()
                injected, failures = sendmail_inject(message, count, 16)
                seconds = wait_count(sink, count, t0, stall=120)
                self.add("postfix_sendmail_inject", count / injected)
                self.add("postfix_sendmail", count / seconds)
            finally:
                sink.stop()
                postfix.purge()
        postfix.stop()

    # -- the table

    def table(self):
        m = {k: median(v) for k, v in self.results.items()}

        def fmt(v, unit):
            if v is None:
                return "-"
            if unit == "/s":
                return "{:,.0f}/s".format(v)
            if unit == "ms":
                return "%.2f ms" % v
            if unit == "MB":
                return "%.1f MB" % v
            if unit == "s":
                return "%.3f s" % v
            return str(v)

        rows = []

        def row(figure, key, unit, peer_name="", peer_key=None, target=None, spread=True):
            """target: (kind, number) where kind is 'ratio>=' (maild/peer), 'max' (value <=), 'info'."""
            v = m.get(key)
            p = m.get(peer_key) if peer_key else None
            ratio = (v / p) if (v is not None and p) else None
            verdict, target_text = "", ""
            if target:
                kind, x = target
                if kind == "ratio>=":
                    target_text = ">= %g x" % x if x >= 1 else ">= %d %%" % round(x * 100)
                    verdict = "-" if ratio is None else ("PASS" if ratio >= x else "MISS")
                elif kind == "max":
                    target_text = "<= %s" % fmt(x, unit)
                    verdict = "-" if v is None else ("PASS" if v <= x else "MISS")
            values = self.results.get(key, [])
            maild_text = fmt(v, unit)
            if spread and len(values) > 1:
                maild_text += " [%s..%s]" % (fmt(min(values), unit).split()[0].rstrip("/s"),
                                             fmt(max(values), unit).split()[0].rstrip("/s"))
            ratio_text = "" if ratio is None else ("%.0f %%" % (ratio * 100) if target and target[1] < 1 else "%.2f x" % ratio)
            rows.append([figure, maild_text, peer_name, fmt(p, "/s" if peer_key else unit) if peer_key else "",
                         ratio_text, target_text, verdict])

        n = self.messages
        row("Pipeline, %d msgs, 16 clients -> sink" % n, "pipeline", "/s", "Postfix <- smtp-source -d -s 8", "postfix_smtp",
            ("ratio>=", 10))
        row("Pipeline (same)", "pipeline", "/s", "Postfix <- sendmail x16 (%d)" % self.sendmail_n, "postfix_sendmail",
            ("ratio>=", 10), spread=False)
        row("  pipeline: all enqueued after", "pipeline_enqueue_seconds", "s")
        row("  pipeline: first message at the sink after (the 2 s tick)", "pipeline_first", "s")
        row("Durable enqueue, 1 client", "enqueue_1", "/s", "Postfix sendmail, 1 caller", "sendmail_1")
        row("Durable enqueue, 16 clients", "enqueue_16", "/s", "Postfix sendmail, 16 callers", "sendmail_16",
            ("ratio>=", 50))
        row("Durable enqueue, 16 clients", "enqueue_16", "/s", "SQLite 1 row/commit", "sqlite_commit_rate",
            ("ratio>=", 2), spread=False)
        row("Durable enqueue, 16 clients", "enqueue_16", "/s", "fsync 1 KB appends", "fsync_rate", spread=False)
        row("Durable enqueue, 64 clients", "enqueue_64", "/s", "Postfix sendmail, 64 callers", "sendmail_64")
        for c in (1, 16, 64):
            row("  ack latency p50, %d client%s" % (c, "s" if c > 1 else ""), "enqueue_%d_p50" % c, "ms")
            row("  ack latency p99, %d client%s" % (c, "s" if c > 1 else ""), "enqueue_%d_p99" % c, "ms")
        row("  ack p99 at half the 16-client rate (%s)" % fmt(m.get("enqueue_half_rate"), "/s"), "enqueue_half_p99", "ms",
            target=("max", 5.0))
        row("Dispatch 8 conns, grouped, %d queued" % n, "dispatch_grouped", "/s", "smtp-source -d -s 8 (reuse)",
            "source_reuse", ("ratio>=", 0.6))
        row("Dispatch 8 conns, immediate, %d queued" % n, "dispatch_immediate", "/s", "smtp-source -s 8 (1/conn)",
            "source_single", ("ratio>=", 0.6))
        row("Peak RSS, idle", "rss_idle", "MB")
        row("Peak RSS, %d queued (filling)" % self.memory_n, "rss_memory_fill", "MB", target=("max", 40.0))
        row("Peak RSS, %d due (restart + flush)" % self.memory_n, "rss_memory_due", "MB", target=("max", 40.0))
        row("Outbox WAL after filling %d" % self.memory_n, "wal_memory_fill", "MB")
        row("Peak RSS, after the pipeline", "rss_pipeline", "MB")
        row("Peak RSS, %d queued, idle" % self.big_n, "rss_big_idle", "MB")
        row("exec -> READY=1, %d queued" % self.memory_n, "ready_memory", "s")
        row("exec -> READY=1, %d queued" % self.big_n, "ready_big", "s", target=("max", 1.0))
        row("loadgen ceiling, 16 clients (vs loadgen serve)", "ceiling_16", "/s", "maild enqueue, 16 clients",
            "enqueue_16")
        if "postfix_smtp_accept" in m:
            row("  (Postfix accept rate via smtp-source)", "postfix_smtp_accept", "/s")
            row("  (Postfix sendmail x16 injection, sink up)", "postfix_sendmail_inject", "/s")
        row("  (SQLite 100 rows/commit)", "sqlite_batch_rate", "/s")
        row("  (filling the big outbox, 16 clients x 16 in flight, per chunk)", "big_fill_rate", "/s")

        head = ["figure", "maild (median [min..max])", "peer / limit", "peer", "ratio", "target", "verdict"]
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
        lines = []
        fmt_row = lambda r: "  ".join(c.ljust(widths[i]) if i in (0, 2, 5) else c.rjust(widths[i])
                                      for i, c in enumerate(r)).rstrip()
        lines.append(fmt_row(head))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt_row(r) for r in rows)
        return "\n".join(lines)

    def machine(self):
        cpu = ""
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return "%s, %d cores (%s), Linux %s, %s" % (platform.node(), os.cpu_count(), cpu, platform.release(),
                                                  time.strftime("%Y-%m-%d %H:%M %Z"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory with maild and mailctl")
    parser.add_argument("--loadgen", required=True, help="the built Benchmarks/loadgen.c")
    parser.add_argument("--python", help="python for relay.py (needs aiosmtpd); default: this one")
    parser.add_argument("--smoke", action="store_true", help="a few hundred messages, one run, no Postfix")
    parser.add_argument("--json", help="also write every run's figures, the checks and notes here")
    args = parser.parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    bench = Bench(args)
    failed = None
    try:
        bench.run()
    except Stop as e:
        log(str(e))
        failed = e
    except Exception as e:  # the table of what was measured is still worth printing
        failed = e
        log("FAILED: %s: %s" % (type(e).__name__, e))
    print("maild benchmarks — %s" % bench.machine())
    print("%d messages of %d bytes, medians of %d run(s); took %.0f s%s" % (
        bench.messages, bench.size, bench.runs, bench.seconds, "" if bench.use_postfix else "; Postfix peers skipped"))
    print()
    print(bench.table())
    bad = [c for c in bench.checks if not c["ok"]]
    print()
    print("checks: %d passed, %d failed%s" % (len(bench.checks) - len(bad), len(bad),
                                             "".join("\n  FAILED: %s %s" % (c["what"], c["detail"]) for c in bad)))
    for note in bench.notes:
        print("note: " + note)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": bench.machine(), "messages": bench.messages, "runs": bench.runs, "seconds": bench.seconds,
            "results": bench.results, "checks": bench.checks, "notes": bench.notes,
            "error": None if failed is None else str(failed)}, indent=1))
    return 130 if isinstance(failed, Stop) else 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
