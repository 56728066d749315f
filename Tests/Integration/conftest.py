"""Shared fixtures for maild's integration tests.

Every test gets real parts: the `maild` and `mailctl` binaries built by SwiftPM, a fresh temporary
directory with its own SQLite outbox and Unix socket, and real SMTP relays (Tests/Support/relay.py,
aiosmtpd) on 127.0.0.1. Everything a test starts is stopped when it ends.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MAILD_BIN_DIR", ROOT / ".build" / "debug"))
RELAY = ROOT / "Tests" / "Support" / "relay.py"


def wait_until(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, message))
        time.sleep(interval)


class Relay:
    """A relay.py process: a real SMTP server recording what it receives."""

    def __init__(self, directory, *args):
        self.maildir = Path(directory)
        self.maildir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, str(RELAY), "--maildir", str(self.maildir), *map(str, args)],
            stdout=subprocess.PIPE, stderr=open(self.maildir / "relay.stderr", "w"), text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError("relay did not start: %r (%s)" % (line, (self.maildir / "relay.stderr").read_text()))
        self.port = int(line.split()[1])

    def messages(self):
        """(envelope, bytes) of every message received, in order."""
        out = []
        for meta in sorted(self.maildir.glob("*.json")):
            out.append((json.loads(meta.read_text()), meta.with_suffix(".eml").read_bytes()))
        return out

    def wait_for(self, count, timeout=10.0):
        return wait_until(lambda: len(self.messages()) >= count and self.messages(), timeout,
                          message="%d message(s) at the relay on port %d" % (count, self.port))

    def events(self):
        path = self.maildir / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def sessions(self):
        return len([e for e in self.events() if e["event"] == "connect"])

    def commands(self, verb):
        return [e for e in self.events() if e.get("verb") == verb]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Maild:
    """A maild process on its own configuration, outbox and socket."""

    def __init__(self, directory, config, companies=None, env=None, start=True, daemon=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "maild.toml"
        self.socket = self.dir / "maild.sock"
        self.database = self.dir / "outbox.db"
        self.companies_dir = self.dir / "companies.d"
        self.companies_dir.mkdir(exist_ok=True)
        self.env = dict(os.environ, **(env or {}))
        self.log_path = self.dir / "maild.log"
        self.process = None
        self.daemon_keys = dict(socket=str(self.socket), database=str(self.database),
                                companies_dir=str(self.companies_dir), helo_name="maild.test")
        self.daemon_keys.update(daemon or {})
        self.write_config(config)
        for company, text in (companies or {}).items():
            self.write_company(company, text)
        if start:
            self.start()

    def write_config(self, text):
        """Writes the global file: our [daemon] table (paths in the test's directory) and the test's tables."""
        daemon = "\n".join("%s = %s" % (k, toml_value(v)) for k, v in self.daemon_keys.items())
        self.config_path.write_text("[daemon]\n%s\n\n%s" % (daemon, text))

    def write_company(self, company, text):
        (self.companies_dir / ("%s.toml" % company)).write_text(text)

    def start(self, wait=True):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [str(BIN / "maild"), "--config", str(self.config_path)],
            stdout=self.log, stderr=self.log, env=self.env)
        if wait:
            wait_until(self._answers, 15, message="maild to answer on %s" % self.socket)
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError("maild exited with %s:\n%s" % (self.process.returncode, self.log_text()))
        try:
            return self.request({"op": "ping"}, timeout=2)["ok"]
        except OSError:
            return False

    def connect(self, timeout=30):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(self.socket))
        return s

    def request(self, obj, timeout=30):
        """One request on a new connection; returns the parsed answer."""
        with self.connect(timeout) as s:
            line = obj if isinstance(obj, (bytes, bytearray)) else json.dumps(obj).encode()
            s.sendall(line + b"\n")
            return json.loads(read_line(s))

    def enqueue(self, message, **extra):
        answer = self.request(dict({"op": "enqueue", "message": message}, **extra))
        assert answer["ok"], answer
        return answer["id"]

    def show(self, message_id):
        answer = self.request({"op": "show", "id": message_id})
        assert answer["ok"], answer
        return answer["message"]

    def wait_state(self, message_id, states, timeout=15):
        states = {states} if isinstance(states, str) else set(states)
        return wait_until(lambda: (lambda m: m if m["state"] in states else None)(self.show(message_id)),
                          timeout, message="message %s to become %s" % (message_id, "/".join(sorted(states))))

    def mailctl(self, *args, input=None, env=None, check=False):
        return run_mailctl(*args, socket_path=self.socket, input=input, env=env, check=check)

    def log_text(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def signal(self, sig):
        self.process.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, and the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.log.close()

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("maild closed the connection; got %r" % data)
        data += chunk
    return data


def run_mailctl(*args, socket_path=None, input=None, env=None, check=False, program="mailctl"):
    full_env = dict(os.environ)
    if socket_path:
        full_env["MAILD_SOCKET"] = str(socket_path)
    full_env.update(env or {})
    argv0 = str(BIN / "mailctl")
    result = subprocess.run([argv0, *map(str, args)] if program == "mailctl" else [program, *map(str, args)],
                            input=input, capture_output=True, env=full_env, timeout=60,
                            executable=argv0)
    if check and result.returncode != 0:
        raise AssertionError("mailctl %s exited %d:\n%s%s" % (" ".join(map(str, args)), result.returncode,
                                                                result.stdout.decode(), result.stderr.decode()))
    return result


@pytest.fixture
def relays(tmp_path):
    started = []

    def start(*args, name=None):
        relay = Relay(tmp_path / ("relay-%d" % len(started) if name is None else name), *args)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.fixture
def relay(relays):
    return relays()


@pytest.fixture
def daemons(tmp_path):
    started = []

    def start(config="", name=None, **kwargs):
        d = Maild(tmp_path / (name or "maild-%d" % len(started)), config, **kwargs)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.process and d.process.poll() is None:
            status = d.stop()
            assert status == 0, "maild exited %s on SIGTERM:\n%s" % (status, d.log_text())


def relay_config(relay, group=False, **smtp):
    """A global [smtp] table pointing at `relay`."""
    keys = dict(host="127.0.0.1", port=relay.port, timeout=10, group=group)
    keys.update(smtp)
    lines = ["[smtp]"] + ["%s = %s" % (k, toml_value(v)) for k, v in keys.items()]
    return "\n".join(lines) + "\n[retry]\nmin_delay = 1\nmax_delay = 2\n"


def toml_value(v):
    if isinstance(v, list):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A private CA with a certificate for localhost/127.0.0.1, one for another host name, and a
    self-signed certificate that no store trusts — made with the openssl CLI."""
    d = tmp_path_factory.mktemp("certs")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=maild test CA")

    def leaf(name, san):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + san.split(",")[0].split(":")[1])
        (d / (name + ".ext")).write_text("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")

    leaf("localhost", "DNS:localhost,IP:127.0.0.1")
    leaf("other", "DNS:other.example")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return d
