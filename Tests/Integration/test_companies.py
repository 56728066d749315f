"""Companies, senders, reload and the connection test (issue 5)."""

import email
import email.policy
import json
import os
import signal
import socket
import time

from conftest import read_line, relay_config, wait_until


def company_file(relay, sender="noreply@acme.example", enabled=True, **extra):
    keys = dict(enabled=enabled, host="127.0.0.1", port=relay.port, sender=sender, timeout=10, group=False)
    keys.update(extra)
    from conftest import toml_value
    return "".join("%s = %s\n" % (k, toml_value(v)) for k, v in keys.items())


def headers(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_each_message_goes_to_the_relay_that_governs_its_company(daemons, relays):
    glob, acme_relay = relays(name="global"), relays(name="acme")
    d = daemons(relay_config(glob) + '[sender]\naddress = "noreply@platform.test"\nname = "Platform"\n',
                companies={"acme": company_file(acme_relay, sender_name="ACME"),
                           "beta": company_file(acme_relay, enabled=False, sender="beta@beta.example")})
    for company in ["acme", "beta", "gamma", None]:
        message = {"to": ["bob@example.com"], "subject": "for %s" % company, "text": "t"}
        if company:
            message["company"] = company
        d.enqueue(message)
    glob.wait_for(3)
    (meta, raw), = acme_relay.wait_for(1)
    assert headers(raw)["Subject"] == "for acme"
    assert meta["mail_from"] == "noreply@acme.example"
    assert str(headers(raw)["From"]) == "ACME <noreply@acme.example>"
    assert sorted(str(headers(r)["Subject"]) for _, r in glob.messages()) == ["for None", "for beta", "for gamma"]
    assert all(m["mail_from"] == "noreply@platform.test" for m, _ in glob.messages())
    status = d.request({"op": "status"})
    assert status["companies"] == ["acme"]


def test_sender_rules(daemons, relays):
    r = relays()
    base = relay_config(r)

    def sent_from(sender_section, message):
        d = daemons(base + sender_section, name="s%d" % len(r.messages()))
        d.enqueue(dict({"to": ["bob@example.com"], "subject": "s", "text": "t"}, **message))
        meta, raw = r.wait_for(len(r.messages()) + 1)[-1]
        d.stop()
        h = headers(raw)
        return meta["mail_from"], str(h["From"]), (str(h["Reply-To"]) if h["Reply-To"] else None)

    d_section = '[sender]\naddress = "noreply@platform.test"\nname = "Platform"\n'
    ana = "Ana Lima <ana@acme.example>"
    assert sent_from(d_section, {"kind": "system", "from": ana}) == (
        "noreply@platform.test", "Platform <noreply@platform.test>", None)
    assert sent_from(d_section, {}) == ("noreply@platform.test", "Platform <noreply@platform.test>", None)
    assert sent_from(d_section, {"from": ana}) == ("ana@acme.example", "Ana Lima <ana@acme.example>", None)
    assert sent_from(d_section + "all_notifications = true\n", {"from": ana}) == (
        "noreply@platform.test", "Platform <noreply@platform.test>", None)
    assert sent_from(d_section + 'on_behalf = "reply_to"\n', {"from": ana}) == (
        "noreply@platform.test", "Ana Lima via Platform <noreply@platform.test>", "Ana Lima <ana@acme.example>")


def test_reload_by_signal_and_by_request_switches_relays_without_losing_mail(daemons, relays):
    glob, first, second = relays(name="global"), relays(name="first"), relays(name="second")
    d = daemons(relay_config(glob), companies={"acme": company_file(first)})
    loaded = d.request({"op": "status"})["config_loaded_at"]
    d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": "1", "text": "t"})
    first.wait_for(1)

    d.write_company("acme", company_file(second))
    time.sleep(1.1)  # config_loaded_at has second precision; make the new load visibly later
    d.signal(signal.SIGHUP)
    wait_until(lambda: "event=reloaded" in d.log_text(), message="the SIGHUP reload")
    assert d.request({"op": "status"})["config_loaded_at"] > loaded
    d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": "2", "text": "t"})
    second.wait_for(1)

    d.write_company("acme", company_file(first))
    assert d.request({"op": "reload"}) == {"ok": True, "companies": 1}
    d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": "3", "text": "t"})
    first.wait_for(2)
    assert len(second.messages()) == 1 and glob.messages() == []

    d.write_company("acme", company_file(first, enabled=False))
    assert d.request({"op": "reload"})["ok"]
    d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": "4", "text": "t"})
    glob.wait_for(1)
    assert d.request({"op": "status"})["companies"] == []


def test_every_kind_of_bad_reload_keeps_the_old_configuration(daemons, relays):
    glob, acme = relays(name="global"), relays(name="acme")
    d = daemons(relay_config(glob), companies={"acme": company_file(acme)})
    good = d.config_path.read_text()
    broken = {
        "bad value": (None, good.replace("timeout = 10", "timeout = 5"), "timeout: must be between 10 and 180"),
        "wrong type": (None, good.replace("timeout = 10", 'timeout = "ten"'), "timeout: must be an integer"),
        "unknown key": (None, good + "\n[sender]\nnmae = \"x\"\n", "sender.nmae: unknown key"),
        "broken toml": (None, good + "\n[smtp\n", "TOML syntax error"),
        "enabled without host": ("acme", 'enabled = true\nsender = "a@acme.example"\n', "host: is required"),
    }
    for kind, (company, text, words) in broken.items():
        if company:
            d.write_company(company, text)
        else:
            d.config_path.write_text(text)
        answer = d.request({"op": "reload"})
        assert answer["ok"] is False and answer["error"]["code"] == "config_invalid", kind
        assert words in answer["error"]["message"], (kind, answer)
        assert any(words in e for e in answer["errors"]), kind
        # The old configuration still works: acme's mail still goes to acme's relay.
        before = len(acme.messages())
        d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": kind, "text": "t"})
        acme.wait_for(before + 1)
        d.config_path.write_text(good)
        d.write_company("acme", company_file(acme))
    d.config_path.write_text(good.replace("timeout = 10", "timeout = 5") + "port = 99999\n")
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.log_text().count("event=reload_failed") >= 2, message="the failed SIGHUP reload")
    assert d.request({"op": "ping"})["ok"]
    assert glob.messages() == []


def test_connection_test_succeeds_with_a_transcript(daemons, relays):
    glob, acme = relays(name="global"), relays(name="acme")
    d = daemons(relay_config(glob), companies={"acme": company_file(acme, sender_name="ACME")})
    answer = d.request({"op": "test", "company": "acme", "to": "admin@acme.example"})
    assert answer["ok"], answer
    transcript = "\n".join(answer["transcript"])
    assert "EHLO" in transcript and "MAIL FROM:<noreply@acme.example>" in transcript and "250" in transcript
    (meta, raw), = acme.wait_for(1)
    h = headers(raw)
    assert "connection test" in str(h["Subject"]).lower()
    assert meta["rcpt_tos"] == ["admin@acme.example"] and meta["mail_from"] == "noreply@acme.example"
    body = h.get_content()
    assert "127.0.0.1:%d" % acme.port in body
    assert glob.messages() == []
    out = d.mailctl("test", "--company", "acme", "--to", "admin@acme.example")
    assert out.returncode == 0 and b"EHLO" in out.stdout and b"note:" not in out.stdout
    # A company without an enabled file is tested with the global relay, and the answer says so.
    typo = d.mailctl("test", "--company", "acm", "--to", "admin@acme.example")
    assert typo.returncode == 0, typo.stderr
    assert b"note: company acm has no file, so its mail goes through the global [smtp] relay" in typo.stdout
    glob.wait_for(1)


def test_connection_test_with_unsaved_settings(tmp_path, daemons, relays):
    glob, new = relays(name="global"), relays(name="new")
    d = daemons(relay_config(glob))
    settings = tmp_path / "new-company.toml"
    settings.write_text(company_file(new, sender="test@new.example"))
    out = d.mailctl("test", "--settings", settings, "--to", "admin@new.example")
    assert out.returncode == 0, out.stderr
    new.wait_for(1)
    bad = d.request({"op": "test", "to": "a@b.example", "settings": {"host": "x", "timeout": 5, "sender": "a@b.c"}})
    assert bad["error"]["code"] == "config_invalid" and "timeout" in bad["error"]["message"]


def test_connection_test_failures(tmp_path, daemons, relays, certs):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    glob = relays(name="global")
    d = daemons(relay_config(glob))
    refused = d.request({"op": "test", "to": "a@example.com", "settings": {
        "host": "127.0.0.1", "port": port, "sender": "s@example.com"}})
    assert refused["error"]["code"] == "smtp_failed"
    assert "connection refused by 127.0.0.1:%d" % port in refused["error"]["message"]

    secured = relays("--security", "tls", "--cert", certs / "localhost.pem", "--key", certs / "localhost.key",
                     "--auth", "mailer:right", name="secured")
    wrong = d.request({"op": "test", "to": "a@example.com", "settings": {
        "host": "127.0.0.1", "port": secured.port, "sender": "s@example.com", "security": "tls",
        "ca_file": str(certs / "ca.pem"), "auth": True, "username": "mailer", "password": "Wr0ngSecret!"}})
    assert wrong["error"]["code"] == "smtp_failed" and "535" in wrong["error"]["message"]
    text = json.dumps(wrong)
    assert "Wr0ngSecret!" not in text
    assert any("AUTH PLAIN ********" in line or "AUTH LOGIN" in line for line in wrong["transcript"])

    silent = relays("--silent", name="silent")
    started = time.monotonic()
    quiet = d.request({"op": "test", "to": "a@example.com", "settings": {
        "host": "127.0.0.1", "port": silent.port, "sender": "s@example.com", "timeout": 10}}, timeout=30)
    elapsed = time.monotonic() - started
    assert quiet["error"]["code"] == "smtp_failed" and "timed out" in quiet["error"]["message"]
    assert elapsed < 15  # bounded by the settings' timeout
    assert "Wr0ngSecret!" not in d.log_text()


def test_inline_settings_cannot_block_maild_on_a_fifo_or_a_device(tmp_path, daemons, relays):
    """A ca_file any client names was opened and read on Swift's cooperative pool: a FIFO without a
    writer blocked one pool thread per request, and with two requests status, list and reload hung."""
    relay = relays()
    d = daemons(relay_config(relay))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    settings = {"host": "127.0.0.1", "port": relay.port, "sender": "s@example.com", "security": "starttls"}
    for path in [fifo, fifo, "/dev/zero"]:
        answer = d.request({"op": "test", "to": "a@example.com", "settings": dict(settings, ca_file=str(path))},
                           timeout=10)
        assert answer["error"]["code"] == "config_invalid" and "not a regular file" in answer["error"]["message"]
    assert d.request({"op": "status"}, timeout=10)["ok"]


def test_a_relay_that_quotes_the_auth_payload_back_does_not_leak_the_password(daemons, relays):
    import base64
    password = "Acme-S3cret-Key"
    for mechanism in ["PLAIN", "LOGIN"]:
        relay = relays("--auth", "mailer:right", "--auth-plaintext", "--auth-echo", "--auth-mechanisms", mechanism,
                       name="echo-" + mechanism)
        d = daemons(relay_config(relays(name="g-" + mechanism)), name="maild-" + mechanism, companies={
            "acme": company_file(relay, auth=True, username="mailer", password=password, allow_plaintext_auth=True)})
        forms = [password, base64.b64encode(password.encode()).decode(),
                 base64.b64encode(b"\0mailer\0" + password.encode()).decode()]
        tested = d.request({"op": "test", "company": "acme", "to": "a@example.com"})
        assert tested["error"]["code"] == "smtp_failed" and "535" in json.dumps(tested)
        message_id = d.enqueue({"company": "acme", "to": ["a@example.com"], "subject": "s", "text": "t"})
        shown = d.wait_state(message_id, "deferred")
        assert "authentication failed: 535" in shown["last_error"]
        everything = json.dumps(tested) + json.dumps(shown) + d.log_text()
        assert "********" in json.dumps(tested)
        assert not [f for f in forms if f in everything], (mechanism, everything)


def test_connection_tests_running_at_once_are_limited(daemons, relays):
    silent = relays("--silent", name="silent")
    d = daemons(relay_config(relays()))
    request = json.dumps({"op": "test", "to": "a@example.com", "settings": {
        "host": "127.0.0.1", "port": silent.port, "sender": "s@example.com", "timeout": 10}}).encode() + b"\n"
    clients = [d.connect() for _ in range(6)]
    try:
        for c in clients:
            c.sendall(request)
        # Four wait for the silent relay's greeting; the other two are answered at once.
        import select
        refused, deadline = [], time.monotonic() + 3
        while time.monotonic() < deadline and len(refused) < 3:  # a third answer would be one too many
            ready, _, _ = select.select([c for c in clients if c.fileno() >= 0], [], [], 0.1)
            for c in ready:
                refused.append(json.loads(read_line(c)))
                c.close()
        assert len(refused) == 2, refused
        assert all(a["error"]["code"] == "unavailable" and "4 connection tests are already running"
                   in a["error"]["message"] for a in refused), refused
        assert d.request({"op": "status"})["ok"]
    finally:
        for c in clients:
            c.close()


def test_inline_settings_cannot_make_maild_read_a_password_file(tmp_path, daemons, relays, certs):
    """Any client of the socket may send inline settings; a `password_file` there would have maild read a
    file of the client's choosing and send its first line to a relay of the client's choosing."""
    secured = relays("--security", "tls", "--cert", certs / "localhost.pem", "--key", certs / "localhost.key",
                     "--auth", "mailer:Acme-S3cret", name="secured")
    glob = relays(name="global")
    d = daemons(relay_config(glob))
    secret = tmp_path / "acme.secret"
    secret.write_text("Acme-S3cret\n")
    secret.chmod(0o600)
    settings = {"host": "127.0.0.1", "port": secured.port, "sender": "s@example.com", "security": "tls",
                "ca_file": str(certs / "ca.pem"), "auth": True, "username": "mailer"}
    refused = d.request({"op": "test", "to": "a@example.com", "settings": dict(settings, password_file=str(secret))})
    assert refused["error"]["code"] == "config_invalid"
    assert "password_file" in refused["error"]["message"] and "give password" in refused["error"]["message"]
    assert secured.sessions() == 0, "maild connected anyway"
    assert "Acme-S3cret" not in json.dumps(refused)

    # mailctl reads the file itself, with its caller's rights, and sends the password.
    saved = tmp_path / "acme.toml"
    saved.write_text(company_file(secured, sender="s@example.com", security="tls", ca_file=str(certs / "ca.pem"),
                                  auth=True, username="mailer", password_file="acme.secret"))
    out = d.mailctl("test", "--settings", saved, "--to", "a@example.com")
    assert out.returncode == 0, out.stderr
    (meta, _), = secured.wait_for(1)
    assert meta["auth_user"] == "mailer"
    assert b"Acme-S3cret" not in out.stdout + out.stderr

    both = tmp_path / "both.toml"
    both.write_text(company_file(secured, sender="s@example.com", password="x", password_file="acme.secret"))
    out = d.mailctl("test", "--settings", both, "--to", "a@example.com")
    assert out.returncode != 0 and b"password_file: set password or password_file, not both" in out.stderr


def test_companies_on_one_relay_never_share_a_connection_made_with_other_settings(daemons, relays, certs):
    """Grouped mail to one host, port and username still goes on connections of its own when the
    password or the certificate check differ: a message is never sent under another company's login,
    nor over a connection that verified less than its company asks."""
    shared = relays("--auth", "apikey:Key-Of-Acme", "--auth", "apikey:Key-Of-Beta", "--auth-plaintext",
                    name="shared")
    glob = relays(name="global")
    login = dict(group=True, auth=True, username="apikey", allow_plaintext_auth=True)
    d = daemons(relay_config(glob), companies={
        "acme": company_file(shared, sender="noreply@acme.example", password="Key-Of-Acme", **login),
        "beta": company_file(shared, sender="noreply@beta.example", password="Key-Of-Beta", **login),
        "gamma": company_file(shared, sender="noreply@gamma.example", password="Revoked-Key", **login)})
    ids = {c: d.enqueue({"company": c, "to": ["bob@example.com"], "subject": c, "text": "t"})
           for c in ["acme", "beta", "gamma"]}
    arrived = {meta["mail_from"]: meta for meta, _ in shared.wait_for(2)}
    assert arrived["noreply@acme.example"]["auth_credential"] == 0
    assert arrived["noreply@beta.example"]["auth_credential"] == 1
    assert d.wait_state(ids["gamma"], ["deferred"])["last_error"].startswith("authentication failed")
    assert [d.show(ids[c])["state"] for c in ["acme", "beta"]] == ["sent", "sent"]

    # One relay whose certificate is self-signed: only the company that turned verification off may use it.
    tls = relays("--security", "tls", "--cert", certs / "self.pem", "--key", certs / "self.key", name="self-signed")
    for name, extra in [("strict", dict(ca_file=str(certs / "ca.pem"))), ("lax", dict(tls_verify=False))]:
        d.write_company(name, company_file(tls, sender="noreply@%s.example" % name, group=True, security="tls",
                                           **extra))
    assert d.request({"op": "reload"})["ok"]
    strict = d.enqueue({"company": "strict", "to": ["a@example.com"], "subject": "strict", "text": "t"})
    lax = d.enqueue({"company": "lax", "to": ["a@example.com"], "subject": "lax", "text": "t"})
    (meta, _), = tls.wait_for(1)
    assert meta["mail_from"] == "noreply@lax.example"
    assert d.wait_state(lax, ["sent"])["state"] == "sent"
    assert "certificate" in d.wait_state(strict, ["deferred"])["last_error"]
    assert len(tls.messages()) == 1
