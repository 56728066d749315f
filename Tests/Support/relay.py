#!/usr/bin/env python3
"""A real SMTP relay for maild's tests and for `make run`, built on aiosmtpd.

It listens on loopback only, prints `READY <port>` on stdout once it accepts connections,
and records what it receives in --maildir:

    NNNNNN.eml    the message as received (dot-unstuffed), written first
    NNNNNN.json   its envelope: mail_from, rcpt_tos, mail_options, session, tls, auth_user,
                  auth_credential (which --auth pair the session logged in with, counted from 0)
                  (tls is true for STARTTLS and for implicit TLS alike)
    events.jsonl  one JSON object per connection and per command (AUTH arguments never logged), and
                  {"event": "sni", "server_name": NAME or null} per TLS handshake

Behaviours for tests (each optional):
    --security none|starttls|tls     STARTTLS offered, or TLS from the first byte
    --auth USER:PASSWORD             require AUTH (PLAIN and LOGIN) with these credentials (repeatable:
                                     any of the pairs logs in)
    --auth-mechanisms PLAIN,LOGIN    restrict the mechanisms offered
    --auth-plaintext                 offer AUTH on an unencrypted connection too
    --auth-echo                      quote the AUTH payload back in a failed AUTH's 535 reply
    --pipelining                     advertise PIPELINING
    --smtputf8                       advertise SMTPUTF8
    --size N                         advertise SIZE N and refuse larger messages
    --mail-replies "421 4.3.2 bye"   replies to successive MAIL commands (then 250)
    --rcpt-reply "ADDR=550 5.1.1 no such user"     reply to RCPT TO:<ADDR> (repeatable; ';' separates a sequence)
    --data-replies "451 4.3.0 later;250 OK"        replies to successive final dots (then 250)
    --drop-after-data                close the connection when the final dot arrives, without replying
    --hang-after-data                never answer the final dot
    --data-delay SECONDS             wait this long before answering each final dot
    --silent                         accept connections but never send a greeting
    --inject-after-starttls          send a forged line right after "220 Ready to start TLS"
    --no-ehlo                        answer EHLO with 502 (an old relay: the client must fall back to HELO)
    --greeting TEXT                  a scripted relay: send TEXT (\\r and \\n escapes understood) instead
                                     of a greeting, then read until the client leaves; for hostile-relay tests
    --close-after-greeting           with --greeting: close the connection right after sending TEXT
    --print                          print each message to stdout (the development relay)
"""

import argparse
import base64
import asyncio
import json
import os
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    """Writes messages and events to a directory so another process can read them."""

    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0
        self.lock = threading.Lock()
        if maildir:
            os.makedirs(maildir, exist_ok=True)

    def event(self, **fields):
        if not self.maildir:
            return
        with self.lock, open(os.path.join(self.maildir, "events.jsonl"), "a") as f:
            f.write(json.dumps(fields) + "\n")

    def message(self, content, meta):
        if not self.maildir:
            return
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.maildir, "%06d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(content)
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")


def parse_sequence(text):
    return [part.strip() for part in text.split(";") if part.strip()] if text else []


class Handler:
    def __init__(self, args, recorder):
        self.args = args
        self.recorder = recorder
        self.mail_replies = parse_sequence(args.mail_replies)
        self.data_replies = parse_sequence(args.data_replies)
        self.rcpt_replies = {}
        for spec in args.rcpt_reply or []:
            address, _, replies = spec.partition("=")
            self.rcpt_replies[address.lower()] = parse_sequence(replies)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.args.no_ehlo:
            return ["502 5.5.1 EHLO not implemented"]
        session.host_name = hostname
        extra = []
        if self.args.pipelining:
            extra.append("250-PIPELINING")
        if not self.args.enhanced_off:
            extra.append("250-ENHANCEDSTATUSCODES")
        return responses[:-1] + extra + responses[-1:]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_replies:
            reply = self.mail_replies.pop(0)
            if not reply.startswith("2"):
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        replies = self.rcpt_replies.get(address.lower())
        if replies:
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
            if not reply.startswith("2"):
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.drop_after_data:
            server.transport.close()
            return "421 4.3.0 closing"
        if self.args.data_delay or self.args.hang_after_data:
            self.recorder.event(session=server.number, event="data_received")
        if self.args.data_delay:
            await asyncio.sleep(self.args.data_delay)
        if self.args.hang_after_data:
            await asyncio.sleep(3600)
        if self.data_replies:
            reply = self.data_replies.pop(0)
            if not reply.startswith("2"):
                self.recorder.event(session=server.number, event="data_refused", reply=reply)
                return reply
        content = envelope.original_content
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "session": server.number,
            "tls": session.ssl is not None or server.implicit_tls,
            "auth_user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "auth_credential": getattr(session, "credential_index", None),
            "helo": session.host_name,
        }
        self.recorder.message(content, meta)
        if self.args.print:
            print("=" * 72)
            print("From %s to %s (session %d)" % (envelope.mail_from, ", ".join(envelope.rcpt_tos), server.number))
            print("-" * 72)
            print(content.decode("utf-8", "replace").replace("\r\n", "\n"), flush=True)
        return "250 2.0.0 OK queued as %06d" % self.recorder.count


class LoggingSMTP(SMTP):
    """aiosmtpd's server, recording each command (never AUTH payloads) with the TLS state."""

    counter = 0

    def __init__(self, handler, recorder, inject, implicit_tls=False, **kwargs):
        super().__init__(handler, **kwargs)
        self.recorder = recorder
        self.inject = inject
        self.implicit_tls = implicit_tls

    def connection_made(self, transport):
        is_first = self.transport is None
        super().connection_made(transport)
        if is_first:
            LoggingSMTP.counter += 1
            self.number = LoggingSMTP.counter
            self.recorder.event(session=self.number, event="connect")

    async def push(self, status):
        if self.inject and isinstance(status, str) and status.startswith("220 Ready to start TLS"):
            status += "\r\n250 forged reply injected before the TLS handshake"
        await super().push(status)

    def _record(self, verb, arg=""):
        if verb in ("AUTH",):
            arg = arg.split(" ")[0] if arg else ""
        self.recorder.event(session=self.number, event="command", verb=verb, arg=arg,
                            tls=self._tls_protocol is not None or self.implicit_tls)


def _wrap(verb):
    original = getattr(SMTP, "smtp_" + verb)

    async def method(self, arg):
        self._record(verb, arg or "")
        return await original(self, arg)

    return method


for _verb in ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "NOOP"):
    setattr(LoggingSMTP, "smtp_" + _verb, _wrap(_verb))


def authenticator_for(credentials, echo=False):
    pairs = [c.partition(":")[::2] for c in credentials]

    def authenticate(server, session, envelope, mechanism, auth_data):
        index = None
        if isinstance(auth_data, LoginPassword):
            given = (auth_data.login.decode(), auth_data.password.decode())
            index = next((i for i, pair in enumerate(pairs) if pair == given), None)
        session.credential_index = index
        message = None
        if index is None and echo and isinstance(auth_data, LoginPassword):
            # A careless relay that quotes what it got: the PLAIN payload, or the LOGIN password step.
            if mechanism == "PLAIN":
                got = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
            else:
                got = base64.b64encode(auth_data.password).decode()
            message = "535 5.7.8 Authentication failed for AUTH %s %s" % (mechanism, got)
        # handled=False: aiosmtpd then answers a failure with 535 itself (by default it sends nothing).
        return AuthResult(success=index is not None, handled=False, message=message,
                          auth_data=auth_data if index is not None else None)

    return authenticate


async def silent_client(reader, writer):
    try:
        await reader.read()  # never greet; wait until the client gives up
    finally:
        writer.close()


def scripted_client(text, close):
    payload = text.encode("utf-8").decode("unicode_escape").encode("latin-1")

    async def serve(reader, writer):
        try:
            writer.write(payload)
            await writer.drain()
            if not close:
                await reader.read()  # wait until the client gives up
        finally:
            writer.close()

    return serve


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--maildir")
    parser.add_argument("--security", choices=["none", "starttls", "tls"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth", action="append")
    parser.add_argument("--auth-mechanisms")
    parser.add_argument("--auth-plaintext", action="store_true", help="offer AUTH without TLS")
    parser.add_argument("--auth-echo", action="store_true", help="quote the credentials back in a failed AUTH's 535")
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--enhanced-off", action="store_true")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--mail-replies")
    parser.add_argument("--rcpt-reply", action="append")
    parser.add_argument("--data-replies")
    parser.add_argument("--drop-after-data", action="store_true")
    parser.add_argument("--hang-after-data", action="store_true")
    parser.add_argument("--data-delay", type=float, default=0)
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--inject-after-starttls", action="store_true")
    parser.add_argument("--print", action="store_true")
    parser.add_argument("--no-ehlo", action="store_true")
    parser.add_argument("--greeting")
    parser.add_argument("--close-after-greeting", action="store_true")
    args = parser.parse_args()

    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        sys.exit("relay.py listens on loopback only")

    loop = asyncio.get_running_loop()
    recorder = Recorder(args.maildir)

    if args.silent:
        server = await asyncio.start_server(silent_client, args.host, args.port)
    elif args.greeting is not None:
        server = await asyncio.start_server(
            scripted_client(args.greeting, args.close_after_greeting), args.host, args.port)
    else:
        tls = None
        if args.security != "none":
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(args.cert, args.key)
            # Called with None when the client sent no SNI (as it must not for an IP literal).
            tls.sni_callback = lambda ssl_object, name, context: recorder.event(event="sni", server_name=name)
        handler = Handler(args, recorder)
        kwargs = dict(
            hostname="relay.test",
            data_size_limit=args.size or None,
            enable_SMTPUTF8=args.smtputf8,
            tls_context=tls if args.security == "starttls" else None,
            loop=loop,
        )
        if args.auth:
            # With implicit TLS every connection is encrypted, though aiosmtpd only knows about STARTTLS.
            kwargs.update(authenticator=authenticator_for(args.auth, args.auth_echo), auth_required=True,
                          auth_require_tls=not args.auth_plaintext and args.security != "tls")
            if args.auth_mechanisms:
                wanted = set(args.auth_mechanisms.upper().split(","))
                kwargs["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m not in wanted]
        factory = lambda: LoggingSMTP(handler, recorder, args.inject_after_starttls,
                                      implicit_tls=args.security == "tls", **kwargs)
        server = await loop.create_server(
            factory, args.host, args.port, ssl=tls if args.security == "tls" else None)

    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # A parent may start us with signals blocked (threads of a test runner often block them, and
    # children inherit the mask): unblock them so SIGTERM and SIGINT stop the relay.
    import signal
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
