"""The walking skeleton (issue 2): socket → durable outbox → SMTP relay, and the protocol's framing."""

import contextlib
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, Maild, read_line, relay_config, wait_until


def test_ping_answers_with_version(daemons, relay):
    d = daemons(relay_config(relay))
    answer = d.request({"op": "ping", "req": 7})
    assert answer == {"ok": True, "req": 7, "version": answer["version"]}
    assert answer["version"]


def test_enqueued_message_reaches_the_relay_and_show_reports_it(daemons, relay):
    d = daemons(relay_config(relay) + '[sender]\naddress = "noreply@platform.test"\nname = "Platform"\n')
    message_id = d.enqueue({"to": ["Bob Silva <bob@example.com>"], "cc": ["carla@example.org"],
                            "subject": "Olá, mundo", "text": "Corpo em português: ação, coração.\n"})
    (meta, raw), = relay.wait_for(1)
    assert meta["mail_from"] == "noreply@platform.test"
    assert sorted(meta["rcpt_tos"]) == ["bob@example.com", "carla@example.org"]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"].addresses[0].addr_spec == "noreply@platform.test"
    assert parsed["From"].addresses[0].display_name == "Platform"
    assert parsed["To"].addresses[0].addr_spec == "bob@example.com"
    assert parsed["Cc"].addresses[0].addr_spec == "carla@example.org"
    assert str(parsed["Subject"]) == "Olá, mundo"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Date"] and parsed["Message-ID"]
    assert parsed.get_content().replace("\r\n", "\n") == "Corpo em português: ação, coração.\n"

    shown = d.wait_state(message_id, "sent")
    assert shown["id"] == message_id
    assert [r["state"] for r in shown["recipients"]] == ["delivered", "delivered"]
    assert all(r["reply"].startswith("250") for r in shown["recipients"])
    assert shown["attempts"] and shown["attempts"][0]["outcome"] == "delivered"


def test_from_given_is_used_and_envelope_sender_follows_it(daemons, relay):
    d = daemons(relay_config(relay))
    d.enqueue({"from": "Ana Lima <ana@acme.example>", "to": ["bob@example.com"], "subject": "s", "text": "t"})
    (meta, raw), = relay.wait_for(1)
    assert meta["mail_from"] == "ana@acme.example"
    assert b"From: Ana Lima <ana@acme.example>" in raw


def test_req_is_echoed_on_success_and_on_error(daemons, relay):
    d = daemons(relay_config(relay))
    req = {"trace": [1, "dois", None, True], "n": 1.5}
    assert d.request({"op": "ping", "req": req})["req"] == req
    error = d.request({"op": "nope", "req": "abc"})
    assert error["ok"] is False and error["req"] == "abc"
    assert error["error"]["code"] == "bad_request"


def test_bad_lines_get_errors_and_the_connection_stays_usable(daemons, relay):
    d = daemons(relay_config(relay))
    lines = [
        (b"this is not json", "bad_request", "not JSON"),
        (b"[1, 2]", "bad_request", "object"),
        (b'{"op": "teleport"}', "bad_request", "teleport"),
        (b'{"op": "ping", "colour": "blue"}', "bad_request", "colour"),
        (b'{"op": "show", "id": 5}', "bad_request", "id"),
        (b'{"op": "enqueue", "message": {"to": "bob@example.com", "text": "x"}}', "bad_request", "message.to"),
        (b'{"op": "enqueue", "message": {"to": ["bob@"], "text": "x"}}', "invalid_message", "to[0]"),
        (b'{"op": "enqueue", "message": {"to": ["b@example.com"], "text": "x", "company": "../etc"}}',
         "invalid_message", "company"),
        (b'{"op": "show", "id": "999999"}', "not_found", "999999"),
        (b'\xff\xfe{"op": "ping"}', "bad_request", "not JSON"),
        (b"[" * 100000 + b"]" * 100000, "bad_request", "nesting"),
    ]
    with d.connect() as s:
        for line, code, words in lines:
            s.sendall(line + b"\n")
            answer = json.loads(read_line(s))
            assert answer["ok"] is False, (line[:40], answer)
            assert answer["error"]["code"] == code, (line[:40], answer)
            assert words in answer["error"]["message"], (line[:40], answer)
        s.sendall(b'{"op": "ping"}\n')
        assert json.loads(read_line(s))["ok"] is True
    assert d.process.poll() is None


def test_pipelined_requests_are_answered_in_order(daemons, relay):
    d = daemons(relay_config(relay))
    with d.connect() as s:
        batch = b"".join(json.dumps({"op": "status" if i % 3 else "ping", "req": i}).encode() + b"\n"
                         for i in range(200))
        s.sendall(batch)
        buffer = b""
        answers = []
        while len(answers) < 200:
            buffer += s.recv(65536)
            *complete, buffer = buffer.split(b"\n")
            answers += [json.loads(line) for line in complete]
    assert [a["req"] for a in answers] == list(range(200))
    assert all(a["ok"] for a in answers)


def test_line_longer_than_max_message_bytes_gets_too_large_and_is_closed(daemons, relay):
    d = daemons(relay_config(relay), daemon={"max_message_bytes": 4096})
    with d.connect() as s:
        s.sendall(b'{"op": "ping", "req": "' + b"x" * 10000)
        answer = json.loads(read_line(s))
        assert answer["error"]["code"] == "too_large"
        assert "4096" in answer["error"]["message"]
        assert s.recv(100) == b""  # closed
    assert d.request({"op": "ping"})["ok"]  # the daemon serves the next client


def open_sockets(pid):
    fds, count = "/proc/%d/fd" % pid, 0
    for fd in os.listdir(fds):
        try:
            count += os.readlink(os.path.join(fds, fd)).startswith("socket:")
        except FileNotFoundError:  # closed meanwhile
            pass
    return count


def test_lines_over_a_mebibyte_are_read_to_their_end_or_their_limit(daemons, relay):
    """Reading stopped at 1 MiB of a line still incomplete: a 1.5 MB attachment was never answered, and a
    client that gave up left maild polling its hang-up in a loop."""
    import base64
    import random
    d = daemons(relay_config(relay), daemon={"max_message_bytes": 3 * 1024 * 1024})
    content = random.Random(7).randbytes(1_500_000)
    answer = d.request({"op": "enqueue", "message": {"to": ["a@example.com"], "subject": "big", "text": "t",
                        "attachments": [{"filename": "big.bin", "data": base64.b64encode(content).decode()}]}})
    assert answer["ok"], answer
    (_, raw), = relay.wait_for(1)
    (part,) = list(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert part.get_content() == content
    with d.connect() as s:
        s.sendall(b'{"op": "ping", "req": "' + b"x" * (4 * 1024 * 1024))
        answer = json.loads(read_line(s))
        assert answer["error"]["code"] == "too_large"

    def sockets():
        return open_sockets(d.process.pid)
    wait_until(lambda: d.request({"op": "ping"})["ok"] and sockets() == 1 or None,
               message="maild to have only its listening socket")  # the test relay's connection is closed
    with d.connect() as s:
        s.sendall(b'{"op": "ping", "req": "' + b"x" * 1_500_000)
    wait_until(lambda: sockets() == 1, message="the abandoned connection to be closed")
    assert d.request({"op": "ping"})["ok"]


def test_long_lines_that_never_end_cannot_take_the_daemons_memory(daemons, relay):
    """Each client may send lines up to max_message_bytes; twenty that send 8 MB each and never finish
    held 160 MB. Long lines now share a budget (64 MB here); short requests are read all the while."""
    d = daemons(relay_config(relay), daemon={"max_message_bytes": 8 * 1024 * 1024})

    def rss_mb():
        for line in open("/proc/%d/status" % d.process.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    before = rss_mb()
    clients = [d.connect() for _ in range(20)]
    line = b'{"op": "ping", "req": "' + b"x" * (8 * 1024 * 1024 - 100)  # within the limit, never ended
    pending = {c: 0 for c in clients}  # bytes of it each has sent
    try:
        for c in clients:
            c.setblocking(False)
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            for c in list(pending):
                try:
                    pending[c] += c.send(line[pending[c]:pending[c] + (1 << 20)])
                    if pending[c] == len(line):
                        del pending[c]
                except BlockingIOError:
                    pass
            time.sleep(0.01)
        assert pending, "maild read every long line: the budget did not hold"
        assert d.request({"op": "ping"}, timeout=5)["ok"]  # short requests still go through
        assert rss_mb() - before < 110, "maild grew by %.0f MB" % (rss_mb() - before)
    finally:
        for c in clients:
            c.close()
    wait_until(lambda: open_sockets(d.process.pid) == 1, message="the connections to be closed")


def test_a_client_that_hangs_up_while_its_requests_wait_does_not_keep_maild_busy(daemons, relays):
    """With 32 answers owed a connection is not read; when its client hung up meanwhile, poll reported
    the hang-up at once on every turn, and the control thread spun until the answers came."""
    d = daemons(relay_config(relays()))
    silent = relays("--silent", name="silent")
    request = json.dumps({"op": "test", "to": "a@example.com", "settings": {
        "host": "127.0.0.1", "port": silent.port, "sender": "s@example.com", "timeout": 10}}).encode() + b"\n"
    with d.connect() as s:
        # A test that waits 10 s for a greeting, and pings whose answers wait for its turn: 32 taken, 8 unread.
        s.sendall(request + b'{"op": "ping"}\n' * 39)
        # The listening socket, this client's, and the test's to the silent relay.
        wait_until(lambda: open_sockets(d.process.pid) >= 3, message="the connection test to be waiting")

    def control_cpu():
        for task in os.listdir("/proc/%d/task" % d.process.pid):
            if open("/proc/%d/task/%s/comm" % (d.process.pid, task)).read().strip() == "control-poll":
                fields = open("/proc/%d/task/%s/stat" % (d.process.pid, task)).read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    before = control_cpu()
    time.sleep(2)  # not a wait for anything: the window in which a spinning thread shows
    assert control_cpu() - before < 0.5, "the control thread used %.1f s of CPU in 2 s" % (control_cpu() - before)
    assert d.request({"op": "ping"})["ok"]


def test_status_counts_every_state(daemons, relay):
    d = daemons(relay_config(relay))
    d.enqueue({"to": ["a@example.com"], "subject": "x", "text": "y"})
    relay.wait_for(1)
    answer = wait_until(lambda: (lambda a: a if a["queue"]["sent"] == 1 else None)(d.request({"op": "status"})))
    assert set(answer["queue"]) == {"queued", "sending", "deferred", "sent", "failed", "cancelled"}
    assert answer["config_loaded_at"].endswith("Z")
    assert answer["uptime_s"] >= 0
    assert answer["companies"] == []


def test_socket_gets_socket_mode(daemons, relay):
    d = daemons(relay_config(relay), daemon={"socket_mode": "0600"})
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600


def test_the_outbox_files_are_private_whatever_the_umask(daemons, relay):
    old = os.umask(0o022)
    try:
        d = daemons(relay_config(relay))
        d.enqueue({"to": ["a@example.com"], "subject": "x", "text": "y"})
    finally:
        os.umask(old)
    relay.wait_for(1)
    for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
        assert stat.S_IMODE(os.stat(d.dir / name).st_mode) == 0o600, name


def test_stale_socket_file_from_a_crash_is_replaced(tmp_path, daemons, relay):
    directory = tmp_path / "stale"
    directory.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(directory / "maild.sock"))
    stale.close()  # the file stays; nobody listens: what a crash leaves
    d = daemons(relay_config(relay), name="stale")
    assert d.request({"op": "ping"})["ok"]


def test_second_daemon_on_the_same_socket_or_database_refuses_to_start(tmp_path, daemons, relay):
    first = daemons(relay_config(relay), name="first")
    # Same database, another socket.
    second = Maild(tmp_path / "second", relay_config(relay), start=False,
                   daemon={"database": str(first.database)})
    second.start(wait=False)
    assert second.process.wait(15) != 0
    assert "another maild" in second.log_text()
    # Same socket, another database.
    third = Maild(tmp_path / "third", relay_config(relay), start=False, daemon={"socket": str(first.socket)})
    third.start(wait=False)
    assert third.process.wait(15) != 0
    assert "already answering" in third.log_text()
    assert first.request({"op": "ping"})["ok"]


def test_sigterm_exits_zero_and_removes_the_socket(daemons, relay):
    d = daemons(relay_config(relay))
    assert d.stop() == 0
    assert not d.socket.exists()
    assert "event=stopped" in d.log_text()


def test_a_database_that_is_not_one_is_named_when_start_up_fails(tmp_path, relay):
    d = Maild(tmp_path / "bad", relay_config(relay), start=False)
    d.database.write_bytes(b"this is not an SQLite database, but some other file\n" * 100)
    d.start(wait=False)
    assert d.process.wait(30) == 1
    line = [l for l in d.log_text().splitlines() if "event=start_failed" in l]
    assert line and "database=%s" % d.database in line[0] and "not a database" in line[0], d.log_text()


def test_acknowledged_message_survives_sigkill(tmp_path, daemons, relays):
    unreachable = socket.socket()
    unreachable.bind(("127.0.0.1", 0))
    port = unreachable.getsockname()[1]
    unreachable.close()  # nothing listens there: delivery is deferred
    d = daemons("[smtp]\nhost = \"127.0.0.1\"\nport = %d\ntimeout = 10\ngroup = true\n"
                "[retry]\nmin_delay = 1\nmax_delay = 1\n" % port)
    ids = [d.enqueue({"to": ["bob@example.com"], "subject": "n%d" % i, "text": "t"}) for i in range(20)]
    d.kill()  # SIGKILL right after the acknowledgements
    relay = relays("--port", port)
    d.start()
    messages = relay.wait_for(20, timeout=30)
    assert sorted(m[1].split(b"Subject: ")[1].split(b"\r\n")[0] for m in messages) == sorted(
        b"n%d" % i for i in range(20))
    for message_id in ids:
        d.wait_state(message_id, "sent")


def test_a_database_deleted_under_a_running_maild_acknowledges_nothing_more(daemons, relay):
    """SQLite goes on committing to an unlinked file; maild acknowledged such enqueues, and a restart lost
    them. Now it refuses them and stops with a failure status, for systemd to start it again."""
    d = daemons(relay_config(relay))
    first = d.enqueue({"to": ["a@example.com"], "subject": "before", "text": "t"})
    d.wait_state(first, "sent")
    for suffix in ["", "-wal", "-shm"]:
        os.unlink(str(d.database) + suffix)
    answer = d.request({"op": "enqueue", "message": {"to": ["a@example.com"], "subject": "after", "text": "t"}})
    assert answer["error"]["code"] == "unavailable" and "deleted or replaced" in answer["error"]["message"], answer
    assert d.process.wait(30) == 1
    assert "event=storage_lost" in d.log_text()
    assert [m for m, _ in relay.messages() if m["rcpt_tos"]] and len(relay.messages()) == 1


def test_hundreds_of_clients_and_a_slow_one_do_not_hold_each_other_up(daemons, relay):
    d = daemons(relay_config(relay, group=True))
    slow = d.connect()
    slow.sendall(b'{"op": "ping", "req": "half a line')  # and then nothing
    results = []
    lock = threading.Lock()

    def client(i):
        with d.connect() as s:
            s.sendall(json.dumps({"op": "enqueue", "req": i, "message": {
                "to": ["c%d@example.com" % i], "subject": "c%d" % i, "text": "t"}}).encode() + b"\n")
            answer = json.loads(read_line(s))
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 300 and all(r["ok"] for r in results)
    assert sorted(r["req"] for r in results) == list(range(300))
    assert len({r["id"] for r in results}) == 300
    slow.sendall(b'"}\n')
    assert json.loads(read_line(slow))["req"] == "half a line"
    slow.close()
    relay.wait_for(300, timeout=60)


SYSTEM_PYTHON = "/usr/bin/python3"


def directory_for_another_user():
    """A directory other users can reach (pytest's own temporary directories are private), for a client run
    as uid 65534; skips the test unless it runs as root with the system python3."""
    if not os.path.exists(SYSTEM_PYTHON) or os.getuid() != 0:
        pytest.skip("needs root and the system python3 to run a client as another user")
    shared = tempfile.mkdtemp(prefix="maild-uid-", dir="/tmp")
    os.chmod(shared, 0o755)
    return shared


def test_peer_not_in_allowed_uids_is_forbidden(relay):
    python = SYSTEM_PYTHON
    shared = directory_for_another_user()
    d = Maild(shared, relay_config(relay), daemon={"socket_mode": "0666", "allowed_uids": [4242]})
    try:
        script = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                  "s.sendall(b'{\"op\":\"ping\"}\\n'); print(s.recv(4096).decode().strip()); print(repr(s.recv(10)))")
        out = subprocess.run([python, "-c", script, str(d.socket)], user=65534, group=65534,
                             capture_output=True, text=True, timeout=20)
        lines = out.stdout.splitlines()
        assert len(lines) == 2, out.stderr
        answer = json.loads(lines[0])
        assert answer["error"]["code"] == "forbidden" and "65534" in answer["error"]["message"]
        assert lines[1] == "b''"  # disconnected
        for extra in [[], ["--json"]]:  # mailctl, answered `forbidden`, exits EX_NOPERM as when the mode refuses it
            out = subprocess.run([str(BIN / "mailctl"), "--socket", str(d.socket), "status", *extra], user=65534,
                                 group=65534, capture_output=True, text=True, timeout=20)
            assert out.returncode == 77, out
            assert "forbidden" in out.stdout + out.stderr and "allowed_uids" in out.stdout + out.stderr
        assert d.request({"op": "ping"})["ok"]  # root (and maild's own uid) is allowed
    finally:
        assert d.stop() == 0
        shutil.rmtree(shared, ignore_errors=True)


def test_mailctl_send_status_show_and_an_absent_daemon(daemons, relay, tmp_path):
    d = daemons(relay_config(relay))
    out = d.mailctl("send", "--to", "you@example.com", "--subject", "hi", "--text", "hello", check=True)
    message_id = out.stdout.decode().split()[-1]
    relay.wait_for(1)
    d.wait_state(message_id, "sent")
    shown = d.mailctl("show", message_id, check=True).stdout.decode()
    assert "you@example.com" in shown and "delivered" in shown
    as_json = json.loads(d.mailctl("show", message_id, "--json", check=True).stdout)
    assert as_json["message"]["state"] == "sent"
    assert "sent" in d.mailctl("status", check=True).stdout.decode()
    assert d.mailctl("ping", check=True).returncode == 0
    before = subprocess.run([str(BIN / "mailctl"), "--socket", str(d.socket), "--json", "status"],
                            capture_output=True, text=True)  # options before the command (SPEC §1)
    assert before.returncode == 0 and json.loads(before.stdout)["queue"]["sent"] == 1

    absent = subprocess.run([str(BIN / "mailctl"), "ping", "--socket", str(tmp_path / "nobody.sock")],
                            capture_output=True, text=True)
    assert absent.returncode == 69
    assert absent.stderr.count("\n") == 1 and "cannot connect to maild" in absent.stderr
    refused = d.mailctl("show", "424242")
    assert refused.returncode == 1 and "no message" in refused.stderr.decode()


def test_reload_applies_the_socket_settings_and_names_only_real_restarts(daemons, relay):
    config = relay_config(relay)
    d = daemons(config, daemon={"socket_mode": "0660", "max_message_bytes": 100000})
    ping = b'{"op": "ping", "req": "' + b"x" * 5000 + b'"}'
    assert d.request(ping)["ok"]

    d.daemon_keys.update(socket_mode="0600", max_message_bytes=4096)
    d.write_config(config)
    assert d.request({"op": "reload"})["ok"]
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
    with d.connect() as s:
        s.sendall(ping + b"\n")
        answer = json.loads(read_line(s))
        assert answer["error"]["code"] == "too_large" and "4096" in answer["error"]["message"]
    assert "restart_needed" not in d.log_text()

    # A socket or database the daemon is not using needs a restart; going back to the ones in use does not.
    moved = dict(d.daemon_keys)
    d.daemon_keys.update(socket=str(d.dir / "other.sock"), database=str(d.dir / "other.db"))
    d.write_config(config)
    assert d.request({"op": "reload"})["ok"]
    assert d.log_text().count("event=restart_needed") == 2
    assert "still using %s" % d.socket in d.log_text()
    d.daemon_keys = moved
    d.write_config(config)
    assert d.request({"op": "reload"})["ok"]
    assert d.log_text().count("event=restart_needed") == 2
    assert not (d.dir / "other.db").exists()


def test_mailctl_refused_by_the_socket_mode_says_what_to_do(relay):
    shared = directory_for_another_user()
    d = Maild(shared, relay_config(relay), daemon={"socket_mode": "0600"})
    try:
        out = subprocess.run([str(BIN / "mailctl"), "--socket", str(d.socket), "ping"], user=65534, group=65534,
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 77, out  # EX_NOPERM, not "maild is not running"
        assert "Permission denied" in out.stderr and "maild group" in out.stderr, out.stderr
    finally:
        assert d.stop() == 0
        shutil.rmtree(shared, ignore_errors=True)


def test_reload_takes_away_a_uid_from_allowed_uids(relay):
    python = SYSTEM_PYTHON
    shared = directory_for_another_user()
    config = relay_config(relay)
    d = Maild(shared, config, daemon={"socket_mode": "0666", "allowed_uids": [65534]})
    # A client of uid 65534 connected before the reload: pings, waits for a line on stdin, pings again.
    script = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rb')\n"
              "s.sendall(b'{\"op\":\"ping\"}\\n'); print(f.readline().decode().strip(), flush=True)\n"
              "sys.stdin.readline(); s.sendall(b'{\"op\":\"ping\",\"req\":2}\\n'); print(f.readline().decode().strip(), flush=True)")
    client = subprocess.Popen([python, "-c", script, str(d.socket)], user=65534, group=65534,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(client.stdout.readline())["ok"]
        d.daemon_keys["allowed_uids"] = [4242]
        d.write_config(config)
        assert d.request({"op": "reload"})["ok"]
        client.stdin.write("\n")
        client.stdin.flush()
        answer = json.loads(client.stdout.readline())
        assert answer["error"]["code"] == "forbidden" and "65534" in answer["error"]["message"]
        assert answer["req"] == 2  # echoed, as in every answer to a request
        assert client.wait(20) == 0
    finally:
        if client.poll() is None:
            client.kill()
        assert d.stop() == 0
        shutil.rmtree(shared, ignore_errors=True)


@contextlib.contextmanager
def out_of_descriptors(d):
    """Yields a connection accepted before maild's descriptors ran out: its limit is lowered to 64 and
    more clients connect than it can accept (the rest wait in the backlog). They leave at the end."""
    import resource
    with d.connect() as kept:
        resource.prlimit(d.process.pid, resource.RLIMIT_NOFILE, (64, 64))
        clients = []
        try:
            for _ in range(100):
                clients.append(d.connect())
            wait_until(lambda: "event=control_accept_paused" in d.log_text(), message="the descriptors to run out")
            yield kept
        finally:
            for c in clients:
                c.close()


def test_out_of_file_descriptors_the_daemon_waits_instead_of_spinning(daemons, relay):
    d = daemons(relay_config(relay))
    with out_of_descriptors(d) as kept:
        # A connection accepted before is served meanwhile; a spinning loop would log on every turn.
        for _ in range(20):
            kept.sendall(b'{"op": "ping"}\n')
            assert json.loads(read_line(kept))["ok"]
        assert d.log_text().count("event=control_accept_paused") == 1
        assert "control_accept_failed" not in d.log_text()
    assert d.request({"op": "ping"})["ok"]  # descriptors free again: new clients are served


def test_out_of_file_descriptors_for_a_relay_connection_does_not_mark_the_relay_down(daemons, relay):
    d = daemons(relay_config(relay))
    with out_of_descriptors(d) as kept:
        kept.sendall(json.dumps({"op": "enqueue", "message": {
            "to": ["a@example.com"], "subject": "no descriptors", "text": "t"}}).encode() + b"\n")
        message_id = json.loads(read_line(kept))["id"]
        wait_until(lambda: "event=connect_local_failure" in d.log_text(), message="the failed connect")
    assert "relay_down" not in d.log_text()  # the relay was never at fault
    assert d.wait_state(message_id, "sent")["state"] == "sent"


def test_a_client_that_pipelines_without_reading_cannot_grow_the_daemon(daemons, tmp_path):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = dead.getsockname()[1]
    d = daemons("[smtp]\nhost = \"127.0.0.1\"\nport = %d\ntimeout = 10\ngroup = true\n"
                "[retry]\nmin_delay = 3600\nmax_delay = 7200\n" % port)
    with d.connect() as s:  # 2,000 messages, so that each list answer is about half a megabyte
        for start in range(0, 2000, 200):
            s.sendall(b"".join(json.dumps({"op": "enqueue", "message": {
                "to": ["user%d@example.com" % i], "subject": "waiting %d" % i, "text": "t"}}).encode() + b"\n"
                for i in range(start, start + 200)))
            answers = s.makefile("rb")
            for _ in range(200):
                assert json.loads(answers.readline())["ok"]

    def rss_mb():
        for line in open("/proc/%d/status" % d.process.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    greedy = d.connect()
    greedy.setblocking(False)
    request = b'{"op": "list", "limit": 10000}\n'
    sent = 0
    try:
        while sent < 5000:  # until maild stops reading or all are sent; never reads an answer
            greedy.send(request)
            sent += 1
    except BlockingIOError:
        pass
    # Over the next seconds maild answers what it took and takes no more: its memory stays small (it
    # grew by gigabytes when it took every request it could read), and other clients are served.
    for _ in range(30):
        assert rss_mb() < 200, "maild grew to %.0f MB" % rss_mb()
        assert d.request({"op": "ping"})["ok"]
        time.sleep(0.1)
    # Stopping does not wait long for a client that does not read.
    d.signal(signal.SIGTERM)
    assert d.process.wait(20) == 0
    greedy.close()
    dead.close()
