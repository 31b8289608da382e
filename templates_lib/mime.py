"""A fast MIME builder for marketing e-mails: multipart/alternative (text + HTML), UTF-8,
base64 bodies. Python's email package folds and quoted-printable-encodes in pure Python (about
4 ms for a 15 KB newsletter); here the bodies go through binascii (C) and the headers are
encoded once each, so a message costs a fraction of a millisecond. The output is checked by
parsing it back with the standard library in the tests."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr


def _header(value: str) -> str:
    """An RFC 2047-encoded header value when it is not plain ASCII; no line breaks either way."""
    value = value.replace("\r", " ").replace("\n", " ")
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=10_000).encode()


def _address(value: str) -> str:
    name, address = parseaddr(value)
    if not name:
        return address
    return formataddr((str(Header(name, "utf-8").encode()) if not name.isascii() else name, address))


def _body(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def build_message(
    *, from_email: str, to: str, subject: str, text: str, html: str,
    headers: Mapping[str, str] | None = None, message_id: str | None = None, domain: str = "relais.localhost",
) -> bytes:
    """The bytes of one e-mail, ready for SMTP (CRLF line ends)."""
    boundary = "relais-" + secrets.token_hex(12)
    lines = [
        f"From: {_address(from_email)}",
        f"To: {_address(to)}",
        f"Subject: {_header(subject)}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {message_id or make_msgid(domain=domain)}",
        "MIME-Version: 1.0",
    ]
    for name, value in (headers or {}).items():
        if "\n" in name or "\r" in name or ":" in name:
            raise ValueError(f"invalid header name {name!r}")
        lines.append(f"{name}: {_header(value)}")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    part = f"--{boundary}\r\nContent-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return b"".join([
        head,
        (part % "plain").encode("ascii"), _body(text),
        (part % "html").encode("ascii"), _body(html),
        f"--{boundary}--\r\n".encode("ascii"),
    ])
