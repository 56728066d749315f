"""Operations (issue 8): sd_notify and the watchdog, the systemd unit, install, and the sendmail interface."""

import email
import email.header
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, Maild, relay_config, run_mailctl, wait_until


class NotifyListener:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.received = []

    def poll(self):
        try:
            while True:
                self.received.append(self.sock.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            pass
        return self.received

    def wait_for(self, prefix, after=0, timeout=10):
        def found():
            return next((m for m in self.poll()[after:] if m.startswith(prefix) or ("\n" + prefix) in m), None)
        return wait_until(found, timeout, message="%r on NOTIFY_SOCKET (got %r)" % (prefix, self.received))


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_ready_reload_watchdog_stopping(tmp_path, relay, abstract):
    if abstract:
        name = "\0maild-test-%d" % os.getpid()
        listener = NotifyListener(name)
        env = {"NOTIFY_SOCKET": "@" + name[1:], "WATCHDOG_USEC": "2000000"}
    else:
        path = str(tmp_path / "notify.sock")
        listener = NotifyListener(path)
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
    d = Maild(tmp_path / "d", relay_config(relay), env=env)
    try:
        ready = listener.wait_for("READY=1")
        assert "STATUS=" in ready and "queued 0" in ready
        count = len(listener.poll())
        d.signal(signal.SIGHUP)
        reloading = listener.wait_for("RELOADING=1", after=count)
        assert "MONOTONIC_USEC=" in reloading
        listener.wait_for("READY=1", after=listener.received.index(reloading) + 1)
        listener.wait_for("WATCHDOG=1", after=count, timeout=5)
        d.signal(signal.SIGTERM)
        listener.wait_for("STOPPING=1")
        assert d.process.wait(30) == 0
    finally:
        d.kill()


def test_nothing_is_sent_without_notify_socket(tmp_path, daemons, relay):
    d = daemons(relay_config(relay), env={"NOTIFY_SOCKET": ""})
    assert d.request({"op": "ping"})["ok"]


def test_systemd_analyze_verify_is_clean(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    root = tmp_path / "root"
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % root, "INSTALL_FROM=%s" % BIN, "NO_BUILD=1"],
                   check=True, capture_output=True)
    unit = root / "lib" / "systemd" / "system" / "maild.service"
    assert (root / "usr" / "sbin" / "maild").exists() and (root / "usr" / "bin" / "mailctl").exists()
    assert (root / "etc" / "maild" / "maild.toml").exists()
    assert (root / "usr" / "lib" / "sysusers.d" / "maild.conf").exists()
    assert (root / "usr" / "lib" / "tmpfiles.d" / "maild.conf").exists()
    # The rest of a system the unit refers to: the targets its default dependencies name, and the
    # /bin/kill of ExecReload (copies: --root resolves absolute symlinks inside the root).
    for target in Path("/lib/systemd/system").glob("*.target"):
        shutil.copy(target, unit.parent / target.name, follow_symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("kill") or "/usr/bin/kill", root / "usr" / "bin" / "kill")
    if not (root / "bin").exists():
        (root / "bin").symlink_to("usr/bin")
    out = subprocess.run(["systemd-analyze", "verify", "--root=%s" % root, str(unit)],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    # An existing configuration is never overwritten.
    (root / "etc" / "maild" / "maild.toml").write_text("# mine\n")
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % root, "INSTALL_FROM=%s" % BIN, "NO_BUILD=1"],
                   check=True, capture_output=True)
    assert (root / "etc" / "maild" / "maild.toml").read_text() == "# mine\n"
    # Another PREFIX: the unit starts the binary where it was installed.
    local = tmp_path / "local"
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % local, "PREFIX=/usr/local",
                    "INSTALL_FROM=%s" % BIN, "NO_BUILD=1"], check=True, capture_output=True)
    assert (local / "usr" / "local" / "sbin" / "maild").exists()
    exec_start = [line for line in (local / "lib" / "systemd" / "system" / "maild.service").read_text().splitlines()
                  if line.startswith("ExecStart=")]
    assert exec_start == ["ExecStart=/usr/local/sbin/maild --config /etc/maild/maild.toml"]
    # Another SYSCONFDIR: the unit reads the configuration where it was installed.
    elsewhere = tmp_path / "elsewhere"
    subprocess.run(["make", "-s", "-C", str(ROOT), "install", "DESTDIR=%s" % elsewhere, "PREFIX=/usr/local",
                    "SYSCONFDIR=/usr/local/etc", "INSTALL_FROM=%s" % BIN, "NO_BUILD=1"], check=True, capture_output=True)
    assert (elsewhere / "usr" / "local" / "etc" / "maild" / "maild.toml").exists()
    exec_start = [line for line in (elsewhere / "lib" / "systemd" / "system" / "maild.service").read_text().splitlines()
                  if line.startswith("ExecStart=")]
    assert exec_start == ["ExecStart=/usr/local/sbin/maild --config /usr/local/etc/maild/maild.toml"]


def sendmail(d, *args, message, program=None, env=None):
    full_env = dict(os.environ, MAILD_SOCKET=str(d.socket) if d else "/nonexistent/maild.sock", **(env or {}))
    argv0 = program or str(BIN / "mailctl")
    argv = [argv0, *args] if program else [argv0, "sendmail", *args]
    return subprocess.run(argv, input=message, capture_output=True, env=full_env, timeout=30)


MESSAGE = (b"From: Reports <reports@acme.example>\n"
           b"To: Ana <ana@example.com>\n"
           b"Cc: bob@example.com\n"
           b"Bcc: secret@example.com\n"
           b"Subject: nightly report\n"
           b"X-Job: 17\n"
           b"\n"
           b"All good.\n")


def test_sendmail_t_reads_recipients_and_drops_bcc(daemons, relay):
    d = daemons(relay_config(relay))
    out = sendmail(d, "-t", "-i", message=MESSAGE)
    assert out.returncode == 0, out.stderr
    (meta, raw), = relay.wait_for(1)
    assert sorted(meta["rcpt_tos"]) == ["ana@example.com", "bob@example.com", "secret@example.com"]
    assert meta["mail_from"] == "reports@acme.example"
    assert b"secret@example.com" not in raw and b"Bcc" not in raw
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["X-Job"] == "17" and m["Subject"] == "nightly report" and m["Date"] and m["Message-ID"]
    assert m.get_content().replace("\r\n", "\n") == "All good.\n"


def test_sendmail_recipients_as_arguments_and_f_and_invoked_as_sendmail(tmp_path, daemons, relay):
    d = daemons(relay_config(relay))
    link = tmp_path / "sendmail"
    link.symlink_to(BIN / "mailctl")
    out = sendmail(d, "-f", "bounces@acme.example", "-oi", "carla@example.org", message=MESSAGE, program=str(link))
    assert out.returncode == 0, out.stderr
    (meta, raw), = relay.wait_for(1)
    assert meta["rcpt_tos"] == ["carla@example.org"]
    assert meta["mail_from"] == "bounces@acme.example"
    assert b"To: Ana <ana@example.com>" in raw  # the message's own headers are kept


def test_sendmail_without_i_stops_at_a_lone_dot(daemons, relay):
    d = daemons(relay_config(relay))
    out = sendmail(d, "x@example.com", message=b"From: cron@acme.example\nSubject: dot\n\nline one\n.\nnot part of it\n")
    assert out.returncode == 0, out.stderr
    (_, raw), = relay.wait_for(1)
    assert b"line one" in raw and b"not part of it" not in raw


def test_sendmail_flags_cluster_as_in_postfix(daemons, relay):
    d = daemons(relay_config(relay))
    body = b"From: cron@acme.example\nTo: ops@acme.example\nSubject: clustered\n\nline1\n.\nline3\n"
    for flags in (["-ti"], ["-it"], ["-tifcron@acme.example"], ["-oem", "-odi", "-Am", "-x", "-c", "-I", "-t", "-i"]):
        out = sendmail(d, *flags, message=body)
        assert out.returncode == 0, (flags, out.stderr)
    messages = relay.wait_for(4)
    for meta, raw in messages:
        assert meta["rcpt_tos"] == ["ops@acme.example"]
        assert b"line1\r\n.\r\nline3" in raw.replace(b"\r\n..\r\n", b"\r\n.\r\n")  # -i kept the lone dot
    assert sendmail(d, "-tz", message=body).returncode == 64


def test_sendmail_t_with_crlf_input_and_comments_in_addresses(daemons, relay):
    d = daemons(relay_config(relay))
    crlf = (b"To: ana@example.com (Ana), Bob <bob@example.com> (work)\r\nFrom: a@acme.example\r\n"
            b"Subject: crlf\r\n\r\nl1\r\n")
    out = sendmail(d, "-t", message=crlf)
    assert out.returncode == 0, out.stderr
    (meta, raw), = relay.wait_for(1)
    assert sorted(meta["rcpt_tos"]) == ["ana@example.com", "bob@example.com"]
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == "crlf"


def test_sendmail_adds_a_from_header_from_f_and_F(daemons, relay):
    d = daemons(relay_config(relay))
    out = sendmail(d, "-F", "Cron Daemon", "-f", "root@acme.example", "-t",
                   message=b"To: ops@acme.example\nSubject: no from\n\nbody\n")
    assert out.returncode == 0, out.stderr
    out = sendmail(d, "-FJoão Ação", "-froot@acme.example", "ops@acme.example", message=b"Subject: two\n\nbody\n")
    assert out.returncode == 0, out.stderr
    first, second = relay.wait_for(2)
    m = email.message_from_bytes(first[1], policy=email.policy.default)
    assert str(m["From"]) == "Cron Daemon <root@acme.example>" and first[0]["mail_from"] == "root@acme.example"
    m = email.message_from_bytes(second[1], policy=email.policy.default)
    assert str(m["From"]) == "João Ação <root@acme.example>"
    # A From header of its own is kept as it is.
    out = sendmail(d, "-F", "Ignored", "-f", "bounces@acme.example", "x@example.com", message=MESSAGE)
    assert out.returncode == 0, out.stderr
    third = relay.wait_for(3)[2]
    assert b"From: Reports <reports@acme.example>" in third[1] and b"Ignored" not in third[1]
    # A long name is folded into encoded words of at most 75 characters (RFC 2047 §2).
    long_name = "Serviço de Monitoração Automática da Infraestrutura de Produção — São Paulo Ltda"
    out = sendmail(d, "-F", long_name, "-f", "cron@acme.example", "ops@acme.example", message=b"Subject: long\n\nx\n")
    assert out.returncode == 0, out.stderr
    raw = relay.wait_for(4)[3][1]
    header = raw.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in header.split(b"\r\n")), header
    # Decoded as RFC 2047 §6.2 says, dropping the white space between adjacent encoded words (Python's
    # address parser keeps a space there).
    value = email.message_from_bytes(raw, policy=email.policy.compat32)["From"]
    assert str(email.header.make_header(email.header.decode_header(value))) == long_name + " <cron@acme.example>"
    out = sendmail(d, "-F", "Evil\nBcc: evil@example.net", "-f", "a@acme.example", "x@example.com", message=b"x\n")
    assert out.returncode == 64 and b"-F: the full name must not contain line breaks" in out.stderr


def test_sendmail_input_that_does_not_start_with_headers_is_body_as_in_postfix(daemons, relay):
    """`echo "disk is full" | sendmail admin@…` is the commonest script call: the header section ends at
    the first line that is not a header field, and the rest is the body."""
    d = daemons(relay_config(relay))
    cases = [(b"disk is full\n", None, "disk is full\n"),
             (b"Backup status: ok\nall done\n", None, "Backup status: ok\nall done\n"),
             (b"Subject: partial\r\nno header here\r\nmore\r\n", "partial", "no header here\nmore\n")]
    for body, _, _ in cases:
        out = sendmail(d, "-f", "root@acme.example", "admin@example.com", message=body)
        assert out.returncode == 0, (body, out.stderr)
    # -h is Postfix's hop count, not help: the message is sent.
    out = sendmail(d, "-h", "30", "-i", "-f", "root@acme.example", "admin@example.com", message=b"hop\n")
    assert out.returncode == 0 and not out.stdout, out
    received = relay.wait_for(len(cases) + 1)
    for (meta, raw), (_, subject, text) in zip(received, cases + [(None, None, "hop\n")]):
        m = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(m["From"]) == "root@acme.example" and meta["rcpt_tos"] == ["admin@example.com"]
        assert m["Subject"] == subject and m["Date"] and m["Message-ID"]
        assert m.get_content().replace("\r\n", "\n") == text
    # Without -f and without a From header there is no sender: said in sendmail's terms.
    out = sendmail(d, "admin@example.com", message=b"disk is full\n")
    assert out.returncode == 64 and b"no sender: give -f ADDRESS" in out.stderr, out


def test_sendmail_utf8_headers_ask_for_smtputf8_where_the_relay_offers_it(daemons, relays):
    message = "From: José <jose@acme.example>\nSubject: Ação às três\n\nCorpo\n".encode()
    for args, expected in [(["--smtputf8"], ["SMTPUTF8"]), ([], [])]:
        relay = relays(*args)
        d = daemons(relay_config(relay))
        out = sendmail(d, "ana@example.com", message=message)
        assert out.returncode == 0, out.stderr
        (meta, raw), = relay.wait_for(1)  # a relay without the extension still gets it, as other 8-bit mail
        assert [o for o in meta["mail_options"] if o.upper() == "SMTPUTF8"] == expected
        assert "Subject: Ação às três".encode() in raw


def test_mailctl_never_prints_control_characters_from_a_message(daemons, relay):
    """A subject is anyone's text: an encoded word can carry ESC sequences, CR and backspaces, which
    printed as they are retitle or recolour the operator's terminal or forge table rows."""
    import base64
    d = daemons(relay_config(relay))
    evil = "\x1b]0;PWNED\x07\x1b[31mRED\x1b[0m\r\x08FAKE\x9b"
    word = "=?UTF-8?B?%s?=" % base64.b64encode(evil.encode()).decode()
    out = sendmail(d, "-f", "a@acme.example", "b@example.com", message=("Subject: %s\n\nbody\n" % word).encode())
    assert out.returncode == 0, out.stderr
    message_id = d.request({"op": "list"})["messages"][0]["id"]
    for args in [("list",), ("show", message_id), ("--json", "list")]:
        out = d.mailctl(*args, check=True)
        assert not any(b < 0x20 and b != 0x0A for b in out.stdout), (args, out.stdout)
        assert b"\x1b" not in out.stdout and "\x9b".encode() not in out.stdout
    assert "\\u{1b}]0;PWNED\\u{7}".encode() in d.mailctl("list", check=True).stdout


def test_mailq_and_sendmail_bp_list_the_mail_waiting(tmp_path, daemons, relays):
    relay = relays("--rcpt-reply", "ana@example.com=451 4.3.0 mailbox busy")
    d = daemons(relay_config(relay).replace("min_delay = 1\nmax_delay = 2", "min_delay = 3600\nmax_delay = 7200"))
    link = tmp_path / "mailq"
    link.symlink_to(BIN / "mailctl")
    out = sendmail(d, message=b"", program=str(link))
    assert out.returncode == 0 and out.stdout == b"Mail queue is empty\n", out
    waiting = d.enqueue({"to": ["ana@example.com"], "subject": "later", "text": "t"})
    d.wait_state(waiting, "deferred")
    sent = d.enqueue({"to": ["bob@example.com"], "subject": "now", "text": "t"})
    d.wait_state(sent, "sent")
    for out in [sendmail(d, message=b"", program=str(link)), sendmail(d, "-bp", message=b"")]:
        assert out.returncode == 0, out.stderr
        lines = out.stdout.decode().splitlines()
        assert lines[0].split()[:3] == ["ID", "STATE", "COMPANY"]
        assert lines[1].split()[:2] == [waiting, "deferred"] and "451 4.3.0 mailbox busy" in lines[1]
        assert lines[2:] == ["-- 1 message waiting"]


def test_sendmail_q_delivers_the_queue_now(daemons, relays):
    relay = relays("--rcpt-reply", "ana@example.com=451 4.3.0 later;250 OK")
    hour_later = relay_config(relay).replace("min_delay = 1\nmax_delay = 2", "min_delay = 3600\nmax_delay = 7200")
    d = daemons(hour_later)
    message_id = d.enqueue({"to": ["ana@example.com"], "subject": "later", "text": "t"})
    d.wait_state(message_id, "deferred")
    out = sendmail(d, "-q", message=b"")
    assert out.returncode == 0, out.stderr
    d.wait_state(message_id, "sent")
    assert len(relay.messages()) == 1


def test_sendmail_company_and_exit_codes(daemons, relays):
    glob, acme = relays(name="g"), relays(name="a")
    d = daemons(relay_config(glob), companies={"acme": "enabled = true\nhost = \"127.0.0.1\"\nport = %d\n"
                                                        "sender = \"noreply@acme.example\"\ngroup = false\n" % acme.port})
    assert sendmail(d, "--company", "acme", "a@example.com", message=MESSAGE).returncode == 0
    acme.wait_for(1)
    assert sendmail(d, "a@example.com", message=MESSAGE, env={"MAILD_COMPANY": "acme"}).returncode == 0
    acme.wait_for(2)
    assert sendmail(None, "a@example.com", message=MESSAGE).returncode == 69  # EX_UNAVAILABLE
    assert sendmail(d, message=MESSAGE).returncode == 64  # EX_USAGE: no recipients
    assert sendmail(d, "-bs", "a@example.com", message=MESSAGE).returncode == 64
    assert sendmail(d, "not-an-address", message=MESSAGE).returncode == 65  # EX_DATAERR
    nobody = sendmail(d, "a@example.com", message=b"Subject: no sender\n\nx\n")
    assert nobody.returncode == 64 and b"give -f ADDRESS, or a From header" in nobody.stderr
    bad = sendmail(d, "-f", "a@acme.example", "a@example.com", message=b"Subject: long\n\n" + b"x" * 1000 + b"\n")
    assert bad.returncode == 65 and b"longer than 998 octets" in bad.stderr
    assert glob.messages() == []


def test_mailctl_help_has_examples_for_every_command():
    for command in ["send", "test", "status", "list", "show", "retry", "cancel", "flush", "reload", "ping",
                    "sendmail"]:
        out = subprocess.run([str(BIN / "mailctl"), "help", command], capture_output=True, text=True)
        assert out.returncode == 0, (command, out.stderr)
        assert "Example" in out.stdout, command
    out = subprocess.run([str(BIN / "mailctl"), "list", "--state", "bogus"], capture_output=True, text=True)
    assert out.returncode == 64 and "--state bogus is not one of queued" in out.stderr


def test_mailctl_send_refuses_a_body_file_that_is_not_utf8(tmp_path, daemons, relay):
    d = daemons(relay_config(relay))
    (tmp_path / "latin1.txt").write_bytes("Olá, coração\n".encode("latin-1"))
    out = d.mailctl("send", "--to", "a@example.com", "--subject", "x", "--text-file", tmp_path / "latin1.txt")
    assert out.returncode == 65
    assert b"latin1.txt is not UTF-8 text (byte 2 is not valid UTF-8)" in out.stderr
    assert sum(d.request({"op": "status"})["queue"].values()) == 0  # nothing was enqueued


def test_mailctl_send_with_files_headers_and_attachments(tmp_path, daemons, relay):
    d = daemons(relay_config(relay))
    (tmp_path / "body.txt").write_text("texto\n")
    (tmp_path / "body.html").write_text("<p>texto</p>\n")
    (tmp_path / "relatório.pdf").write_bytes(b"%PDF-1.4 test")
    out = d.mailctl("send", "--to", "a@example.com", "--subject", "files", "--text-file", tmp_path / "body.txt",
                    "--html-file", tmp_path / "body.html", "--attach", tmp_path / "relatório.pdf",
                    "--reply-to", "help@acme.example", "--header", "X-Ticket: 99", "--idempotency-key", "k-1",
                    check=True)
    assert out.stdout.startswith(b"queued ")
    again = d.mailctl("send", "--to", "a@example.com", "--subject", "files", "--text", "x", "--idempotency-key",
                      "k-1", check=True)
    assert b"already queued" in again.stdout
    (_, raw), = relay.wait_for(1)
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["X-Ticket"] == "99" and str(m["Reply-To"]) == "help@acme.example"
    (part,) = list(m.iter_attachments())
    assert part.get_filename() == "relatório.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.4 test"
