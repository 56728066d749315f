"""The composer end to end (issue 4): what maild builds, an independent parser (Python's `email`) reads back
exactly; what is invalid is refused and never stored."""

import base64
import email
import email.policy
import hashlib
import os

from conftest import relay_config


def test_rich_portuguese_message_arrives_intact(daemons, relays):
    relay = relays("--smtputf8")
    d = daemons(relay_config(relay) + '[sender]\naddress = "noreply@plataforma.test"\nname = "Plataforma Ágil"\n')
    long_line = "ação " * 400  # 2,000 characters
    text = "Olá João,\n.\n.começa com ponto\n..dois pontos\n" + long_line + "\nfim\n"
    html = "<html><body><p>Olá <b>João</b> — relatório em anexo.</p>\n<p>.</p></body></html>\n"
    attachment = os.urandom(300 * 1024)
    message_id = d.enqueue({
        "kind": "user",
        "from": "João Conceição <joao@acme.example>",
        "to": ["Maria das Graças <maria@example.com>", "\"Silva, Ana\" <ana@example.org>"],
        "cc": ["Conceição Ribeiro <conceicao@example.net>"],
        "bcc": ["auditoria@example.com"],
        "reply_to": "Atendimento São Paulo <atendimento@acme.example>",
        "subject": "Solicitação nº 123 aprovada — ação necessária até sexta-feira, não deixe para depois",
        "text": text,
        "html": html,
        "attachments": [{"filename": "relatório final.pdf", "content_type": "application/pdf",
                         "data": base64.b64encode(attachment).decode()}],
        "headers": {"X-Request-Id": "req-42", "X-Regiao": "Sudeste — São Paulo"},
    })
    (meta, raw), = relay.wait_for(1)
    assert sorted(meta["rcpt_tos"]) == sorted(["maria@example.com", "ana@example.org", "conceicao@example.net",
                                                "auditoria@example.com"])
    assert meta["mail_from"] == "joao@acme.example"

    header_section = raw.split(b"\r\n\r\n", 1)[0]
    assert all(b < 0x80 for b in header_section), "the header section is pure ASCII"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert b"auditoria" not in raw and b"\r\nBcc:" not in header_section and not header_section.startswith(b"Bcc:")

    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(m["Subject"]) == "Solicitação nº 123 aprovada — ação necessária até sexta-feira, não deixe para depois"
    assert m["From"].addresses[0].display_name == "João Conceição"
    assert m["From"].addresses[0].addr_spec == "joao@acme.example"
    assert [(a.display_name, a.addr_spec) for a in m["To"].addresses] == [
        ("Maria das Graças", "maria@example.com"), ("Silva, Ana", "ana@example.org")]
    assert [(a.display_name, a.addr_spec) for a in m["Cc"].addresses] == [("Conceição Ribeiro", "conceicao@example.net")]
    assert [(a.display_name, a.addr_spec) for a in m["Reply-To"].addresses] == [
        ("Atendimento São Paulo", "atendimento@acme.example")]
    assert m["X-Request-Id"] == "req-42"
    assert str(m["X-Regiao"]) == "Sudeste — São Paulo"
    assert m["MIME-Version"] == "1.0"
    assert m["Message-ID"].startswith("<") and m["Message-ID"].endswith(">")
    assert m["Date"].datetime is not None
    assert m.get_content_type() == "multipart/mixed"

    body = m.get_body(preferencelist=("plain",))
    assert body.get_content().replace("\r\n", "\n") == text
    html_part = m.get_body(preferencelist=("html",))
    assert html_part.get_content().replace("\r\n", "\n") == html
    alternative = next(p for p in m.iter_parts() if p.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]

    (part,) = list(m.iter_attachments())
    assert part.get_filename() == "relatório final.pdf"
    assert part.get_content_type() == "application/pdf"
    assert hashlib.sha256(part.get_content()).hexdigest() == hashlib.sha256(attachment).hexdigest()

    shown = d.wait_state(message_id, "sent")
    assert shown["subject"].startswith("Solicitação nº 123")
    assert "auditoria@example.com" in [r["address"] for r in shown["recipients"]]


def test_invalid_messages_are_refused_and_nothing_is_stored(daemons, relay):
    d = daemons(relay_config(relay))
    cases = [
        ({"to": ["a@example.com"], "subject": "x\r\nBcc: victim@example.com", "text": "t"}, "subject"),
        ({"to": ["a@example.com"], "text": "t", "headers": {"X-A": "b\nInjected: yes"}}, "X-A"),
        ({"to": ["a@example.com"], "text": "t", "headers": {"Received": "forged"}}, "Received"),
        ({"to": ["a@example.com\r\nRCPT TO:<b@example.com>"], "text": "t"}, "to[0]"),
        ({"to": [], "text": "t"}, "recipient"),
        ({"to": ["a@example.com"], "subject": "no body"}, "text"),
        ({"to": ["a@example.com"], "from": "not an address", "text": "t"}, "from"),
        ({"to": ["a@example.com"], "text": "t", "attachments": [{"filename": "", "data": "aGk="}]}, "filename"),
        ({"to": ["a@example.com"], "text": "t", "headers": {"X-Região": "x"}}, "X-Regi"),
    ]
    for message, words in cases:
        answer = d.request({"op": "enqueue", "message": message})
        assert answer["ok"] is False and answer["error"]["code"] == "invalid_message", (message, answer)
        assert words in answer["error"]["message"], (message, answer)
    assert d.request({"op": "list"})["messages"] == []
    assert sum(d.request({"op": "status"})["queue"].values()) == 0


def test_too_large_request(daemons, relay):
    d = daemons(relay_config(relay), daemon={"max_message_bytes": 100000})
    answer = d.request({"op": "enqueue", "message": {"to": ["a@example.com"], "text": "x" * 200000}})
    assert answer["error"]["code"] == "too_large"
    assert d.request({"op": "list"})["messages"] == []


def test_internationalised_domains_go_as_a_labels_to_a_relay_without_smtputf8(daemons, relay):
    d = daemons(relay_config(relay))  # relay.py offers no SMTPUTF8 unless told to
    message_id = d.enqueue({"to": ["José <jose@coração.com.br>"], "from": "Ana <ana@ação.example>",
                            "subject": "Ação", "text": "Olá"})
    (meta, raw), = relay.wait_for(1)
    assert meta["rcpt_tos"] == ["jose@xn--corao-dra1a.com.br"]
    assert meta["mail_from"] == "ana@xn--ao-siap.example"
    assert "SMTPUTF8" not in meta["mail_options"]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["To"].addresses[0].domain == "xn--corao-dra1a.com.br" and m["To"].addresses[0].display_name == "José"
    d.wait_state(message_id, "sent")
    # A non-ASCII local part still needs SMTPUTF8, which this relay lacks: refused for good, and said why.
    refused = d.enqueue({"to": ["joão@coração.com.br"], "subject": "x", "text": "y"})
    shown = d.wait_state(refused, "failed")
    assert "SMTPUTF8" in shown["last_error"]
