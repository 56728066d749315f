"""The SMTP client through the daemon (issue 3): TLS modes, certificate checks, AUTH, hostile relays —
each delivers or refuses exactly as stated, with the reason visible in `show`."""

import os
import socket

import pytest

from conftest import relay_config, wait_until

PASSWORD = "correct horse battery staple"


def secret_file(tmp_path, password=PASSWORD):
    path = tmp_path / "relay.secret"
    path.write_text(password + "\n")
    os.chmod(path, 0o600)
    return path


def first_attempt_error(d, message_id):
    """The error of the first attempt, once there is one."""
    shown = wait_until(lambda: (lambda m: m if m["attempts"] else None)(d.show(message_id)), 30,
                       message="a first attempt of %s" % message_id)
    return shown, shown["attempts"][0]["error"] or ""


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
@pytest.mark.parametrize("mechanism", [None, "PLAIN", "LOGIN"])
def test_every_security_mode_with_every_auth_mechanism(tmp_path, daemons, relays, certs, security, mechanism):
    args = ["--security", security, "--pipelining"]
    if security != "none":
        args += ["--cert", certs / "localhost.pem", "--key", certs / "localhost.key"]
    if mechanism:
        args += ["--auth", "mailer:" + PASSWORD, "--auth-mechanisms", mechanism]
        if security == "none":
            args.append("--auth-plaintext")
    relay = relays(*args)
    smtp = dict(security=security, ca_file=str(certs / "ca.pem"))
    if mechanism:
        smtp.update(auth=True, username="mailer", password_file=str(secret_file(tmp_path)))
        if security == "none":
            smtp["allow_plaintext_auth"] = True
    d = daemons(relay_config(relay, **smtp))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "mode %s %s" % (security, mechanism),
                            "text": "hello\n.\n..dots\n"})
    (meta, raw), = relay.wait_for(1)
    assert meta["tls"] == (security != "none")
    assert meta["auth_user"] == ("mailer" if mechanism else None)
    assert b"\r\n.\r\n..dots\r\n" in raw  # dot-stuffed on the wire, unstuffed by the relay: arrives unchanged
    d.wait_state(message_id, "sent")
    auths = relay.commands("AUTH")
    assert [a["arg"] for a in auths] == ([mechanism] if mechanism else [])
    if security == "starttls":
        assert all(a["tls"] for a in auths)
        ehlos = relay.commands("EHLO")
        assert len(ehlos) == 2 and not ehlos[0]["tls"] and ehlos[1]["tls"]  # EHLO again after the handshake
    assert PASSWORD not in d.log_text()


def test_hostname_mismatch_is_refused_with_the_reason(daemons, relays, certs):
    relay = relays("--security", "tls", "--cert", certs / "other.pem", "--key", certs / "other.key")
    d = daemons(relay_config(relay, host="localhost", security="tls", ca_file=str(certs / "ca.pem")))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    shown, error = first_attempt_error(d, message_id)
    assert "certificate verify failed" in error and "localhost" in error, error
    assert shown["state"] in ("deferred", "sending", "queued")
    assert relay.messages() == []


def test_untrusted_self_signed_certificate_is_refused_unless_tls_verify_is_false(daemons, relays, certs):
    relay = relays("--security", "starttls", "--cert", certs / "self.pem", "--key", certs / "self.key")
    d = daemons(relay_config(relay, security="starttls", ca_file=str(certs / "ca.pem")), name="verify")
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    _, error = first_attempt_error(d, message_id)
    assert "certificate verify failed" in error and "self-signed" in error, error
    assert relay.messages() == []
    assert d.stop() == 0

    relaxed = daemons(relay_config(relay, security="starttls", tls_verify=False), name="relaxed")
    assert "tls_verify" in relaxed.log_text()  # warned at load
    relaxed.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    (meta, _), = relay.wait_for(1)
    assert meta["tls"]


def test_starttls_not_offered_fails_without_plaintext_fallback_or_auth(tmp_path, daemons, relays):
    relay = relays("--auth", "mailer:" + PASSWORD, "--auth-plaintext")  # plaintext only, AUTH offered in clear
    d = daemons(relay_config(relay, security="starttls", auth=True, username="mailer",
                             password_file=str(secret_file(tmp_path))))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    _, error = first_attempt_error(d, message_id)
    assert "relay does not offer STARTTLS" in error
    assert relay.commands("AUTH") == [] and relay.commands("MAIL") == []


def test_plaintext_auth_is_a_configuration_error_unless_allowed(tmp_path, daemons, relay):
    from conftest import Maild
    d = Maild(tmp_path / "refused", relay_config(relay, auth=True, username="u", password="p"), start=False)
    d.start(wait=False)
    assert d.process.wait(15) == 1
    assert "clear text" in d.log_text() and "smtp.auth" in d.log_text()


def test_wrong_password_defers_with_the_reply_and_no_secret_anywhere(tmp_path, daemons, relays, certs):
    relay = relays("--security", "tls", "--cert", certs / "localhost.pem", "--key", certs / "localhost.key",
                   "--auth", "mailer:right-password")
    d = daemons(relay_config(relay, security="tls", ca_file=str(certs / "ca.pem"), auth=True, username="mailer",
                             password_file=str(secret_file(tmp_path, "wrong-password-42"))))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    shown, error = first_attempt_error(d, message_id)
    assert "535" in error, error
    everything = repr(shown) + d.log_text() + d.mailctl("show", message_id).stdout.decode()
    assert "wrong-password-42" not in everything
    import base64
    assert base64.b64encode(b"\0mailer\0wrong-password-42").decode() not in everything


def test_relay_that_never_greets_times_out_with_the_reason(daemons, relays):
    relay = relays("--silent")
    d = daemons(relay_config(relay, timeout=10))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    _, error = first_attempt_error(d, message_id)
    assert "timed out after 10 s" in error and "greeting" in error, error


def test_connection_refused_names_the_address(daemons):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = daemons("[smtp]\nhost = \"127.0.0.1\"\nport = %d\ntimeout = 10\ngroup = false\n" % port)
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    _, error = first_attempt_error(d, message_id)
    assert error == "connection refused by 127.0.0.1:%d" % port


def test_lost_connection_after_data_is_deferred_and_marked_uncertain(daemons, relays):
    relay = relays("--drop-after-data")
    d = daemons(relay_config(relay))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    shown, error = first_attempt_error(d, message_id)
    assert shown["attempts"][0]["uncertain"] is True
    assert shown["uncertain"] is True
    assert "uncertain" in d.mailctl("show", message_id).stdout.decode()


def test_421_to_mail_defers_and_the_next_attempt_delivers(daemons, relays):
    relay = relays("--mail-replies", "421 4.3.2 shutting down")
    d = daemons(relay_config(relay))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    relay.wait_for(1, timeout=20)
    shown = d.wait_state(message_id, "sent")
    assert shown["attempts"][0]["outcome"] == "deferred"
    assert shown["attempts"][0]["error"].startswith("421 4.3.2")
    assert len(relay.messages()) == 1


def test_starttls_injection_is_discarded(daemons, relays, certs):
    relay = relays("--security", "starttls", "--cert", certs / "localhost.pem", "--key", certs / "localhost.key",
                   "--inject-after-starttls")
    d = daemons(relay_config(relay, security="starttls", ca_file=str(certs / "ca.pem")))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    relay.wait_for(1)
    d.wait_state(message_id, "sent")


def test_size_limit_fails_permanently_before_data(daemons, relays):
    relay = relays("--size", "2000")
    d = daemons(relay_config(relay))
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "big", "text": "x" * 5000})
    shown = d.wait_state(message_id, "failed")
    assert "2000" in shown["last_error"]
    assert relay.commands("DATA") == []


def test_non_ascii_address_needs_smtputf8(daemons, relays):
    plain = relays()
    d = daemons(relay_config(plain), name="plain")
    message_id = d.enqueue({"to": ["joão@exemplo.com.br"], "subject": "x", "text": "y"})
    shown = d.wait_state(message_id, "failed")
    assert "SMTPUTF8" in shown["last_error"]
    d.stop()
    capable = relays("--smtputf8")
    d2 = daemons(relay_config(capable), name="capable")
    d2.enqueue({"to": ["joão@exemplo.com.br"], "subject": "x", "text": "y"})
    (meta, _), = capable.wait_for(1)
    assert meta["rcpt_tos"] == ["joão@exemplo.com.br"]
    assert "SMTPUTF8" in meta["mail_options"]


def test_sigterm_while_waiting_for_the_final_reply_records_the_uncertain_attempt(daemons, relays):
    relay = relays("--hang-after-data")
    d = daemons(relay_config(relay))  # timeout = 10, the least allowed
    message_id = d.enqueue({"to": ["bob@example.com"], "subject": "x", "text": "y"})
    wait_until(lambda: [e for e in relay.events() if e["event"] == "data_received"],
               message="the message data to be sent")
    assert d.stop(timeout=40) == 0
    relay.stop()  # what follows must not hang again
    d.start()
    shown = d.show(message_id)
    assert shown["attempts"], shown
    first = shown["attempts"][0]
    assert first["outcome"] == "deferred" and first["uncertain"] is True and "timed out" in first["error"], shown
    assert shown["uncertain"] is True
