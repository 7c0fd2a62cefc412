"""Mail transports: SMTP from ``SMTP_URL``, else a local maildir under ``MAIL_DIR``.

``smtp://user:password@host:587`` upgrades with STARTTLS when the server offers it;
``smtps://host:465`` speaks TLS from the first byte. User and password are optional and
percent-decoded. Failures are sorted into transient ones (retry later: 4xx replies,
connection trouble, authentication or sender problems an operator can fix) and permanent
ones (the server refused the recipients or the message itself with a 5xx).
"""

from __future__ import annotations

import functools
import logging
import mailbox
import os
import select
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from services.settings import get_settings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 30
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailError(Exception):
    """Base of mail delivery failures."""


class TransientMailError(MailError):
    """Delivery may succeed later (4xx, connection refused, timeout)."""


class PermanentMailError(MailError):
    """The server refused the message for good (5xx on recipients or data)."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class MaildirTransport:
    """Writes each message into a maildir, so development needs no mail server."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def send(self, message: EmailMessage) -> None:
        try:
            # Maildir(create=True) only builds tmp/new/cur when the folder is missing.
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.path, create=False).add(message)
        except OSError as error:
            raise TransientMailError(f"cannot write to maildir {self.path}: {error}") from error


class SMTPTransport:
    """One kept SMTP connection per thread, opened on first use and after any failure.

    Opening one costs a TCP handshake, EHLO, STARTTLS and the login; a worker thread
    sends email after email, so it keeps its connection. One the server closed while it
    sat idle is noticed before reuse (see ``_usable``); one that fails during a send is
    dropped, and the error raised as before (the job retries on a new connection).
    """

    def __init__(self, url: str, *, timeout: float = SMTP_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://[user:password@]host[:port]")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        context = tls_context()
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if not self.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _client(self) -> smtplib.SMTP:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # A forked child inherits its thread's locals: the parent's socket stays theirs.
            local.pid, local.client = os.getpid(), None
        client: smtplib.SMTP | None = local.client
        if client is not None and not _usable(client):
            self._drop()
            client = None
        if client is None:
            client = local.client = self._connect()
        return client

    def _drop(self) -> None:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            client.close()

    def send(self, message: EmailMessage) -> None:
        try:
            self._send(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise _classified(min(codes), f"recipients refused: {error.recipients}") from error
        except smtplib.SMTPDataError as error:
            raise _classified(error.smtp_code, f"message refused: {_reply(error)}") from error
        except smtplib.SMTPResponseException as error:
            # Sender, authentication and greeting failures are configuration problems:
            # retrying gives an operator time to fix them instead of losing the email.
            raise TransientMailError(f"SMTP error: {_reply(error)}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientMailError(f"SMTP connection failed: {error!r}") from error

    def _send(self, message: EmailMessage) -> None:
        client = self._client()
        try:
            client.send_message(message)
        except BaseException:
            # After any failure (a refusal, a reset, the job's time limit) the
            # conversation's state is unknown: the next send starts a new one.
            self._drop()
            raise


def _usable(client: smtplib.SMTP) -> bool:
    """An idle connection whose socket is readable was closed by the server (or sent a
    421 before closing): a server says nothing unasked, so it is not reused."""
    sock = client.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS settings for SMTP, built once: loading the CA store costs
    milliseconds of CPU, and one context serves every connection and thread."""
    return ssl.create_default_context()


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {text}"


def _classified(code: int, detail: str) -> MailError:
    return PermanentMailError(detail) if 500 <= code < 600 else TransientMailError(detail)


def transport() -> Transport:
    """The transport the settings choose: SMTP when ``SMTP_URL`` is set, else the maildir.

    One ``SMTPTransport`` per URL per process, so its threads keep their connections.
    """
    settings = get_settings()
    if settings.smtp_url:
        return smtp_transport(settings.smtp_url)
    return MaildirTransport(settings.mail_dir)


@functools.cache
def smtp_transport(url: str) -> SMTPTransport:
    return SMTPTransport(url)


def sender_domain() -> str:
    """The domain of ``MAIL_FROM``; deterministic Message-IDs are minted under it."""
    _, address = parseaddr(get_settings().mail_from)
    return address.rpartition("@")[2] or "cartfleet.local"


def deterministic_message_id(kind: str, key: str) -> str:
    """``<kind.key@domain>``: the same email always carries the same Message-ID."""
    return f"<{kind}.{key}@{sender_domain()}>"
