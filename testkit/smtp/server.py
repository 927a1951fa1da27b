"""A small SMTP server for the test suite (ebok_testkit::smtp::TestSmtp), on aiosmtpd.

Run by Debian's /usr/bin/python3 with Debian's python3-aiosmtpd. It binds 127.0.0.1 on the
given port (0: any free port), prints "PORT <n>" on stdout once it listens, and writes each
accepted message into --maildir as <n>.json (envelope: mail_from, rcpt_tos, auth login, tls)
and <n>.eml (the raw RFC 5322 bytes, written last, atomically: a reader that sees the .eml sees
the whole message). It stops when its standard input closes, so it cannot outlive the test
process that started it, even when that process is killed.

Modes: --tls-mode none | starttls (STARTTLS offered and required) | implicit (TLS from the
first byte). --auth USER:PASSWORD requires AUTH (PLAIN or LOGIN) with exactly these.
--reject ADDRESS answers 550 to RCPT TO that address; --defer ADDRESS answers 451.
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class MaildirHandler:
    def __init__(self, maildir, reject, defer, implicit_tls):
        self.maildir = maildir
        self.reject = {a.lower() for a in reject}
        self.defer = {a.lower() for a in defer}
        self.implicit_tls = implicit_tls
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 Mailbox unavailable: no such user here"
        if address.lower() in self.defer:
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{self.count:06d}"
        login = session.auth_data if session.authenticated else None
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": login.decode() if isinstance(login, bytes) else login,
            "tls": self.implicit_tls or session.ssl is not None,
        }
        write_atomically(os.path.join(self.maildir, name + ".json"), json.dumps(meta).encode())
        content = envelope.original_content or envelope.content
        write_atomically(os.path.join(self.maildir, name + ".eml"), content)
        return f"250 2.0.0 Ok: queued as {name}"


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def authenticator(username, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=username if ok else None)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--tls-mode", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth", help="USER:PASSWORD")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--defer", action="append", default=[])
    args = parser.parse_args()

    context = None
    if args.tls_mode != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    handler = MaildirHandler(args.maildir, args.reject, args.defer, args.tls_mode == "implicit")
    smtp_kwargs = {"hostname": "smtp.test", "ident": "ebok test SMTP"}
    if args.tls_mode == "starttls":
        smtp_kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        username, password = args.auth.split(":", 1)
        smtp_kwargs.update(
            authenticator=authenticator(username, password),
            auth_required=True,
            # Over implicit TLS aiosmtpd does not see the TLS layer; on a plain server the
            # test asked for AUTH without TLS on purpose.
            auth_require_tls=args.tls_mode == "starttls",
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, **smtp_kwargs),
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.tls_mode == "implicit" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)

    # Serve until the parent closes our stdin (it exited, or TestSmtp was dropped).
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    server.close()


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    asyncio.run(main())
