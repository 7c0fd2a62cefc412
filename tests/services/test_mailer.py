"""Mail transports against a real local SMTP server and a real maildir."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest

from services import mailer
from services.settings import get_settings
from tests.support.smtp_server import SMTPServer

# aiosmtpd warns when AUTH is allowed without TLS; these servers only listen on localhost.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning")


def message(to: str = "buyer@example.com") -> EmailMessage:
    built = EmailMessage()
    built["From"] = "Shop <orders@shop.example>"
    built["To"] = to
    built["Subject"] = "Hello"
    built["Message-ID"] = "<test.1@shop.example>"
    built.set_content("body")
    return built


def test_smtp_delivers_with_login_from_url():
    server = SMTPServer(credentials=("mailer", "s3cr/t")).start()
    try:
        url = f"smtp://mailer:s3cr%2Ft@127.0.0.1:{server.port}"
        mailer.SMTPTransport(url).send(message())
    finally:
        server.stop()

    assert [m["Message-ID"] for m in server.messages] == ["<test.1@shop.example>"]
    assert server.envelopes == [("orders@shop.example", ["buyer@example.com"])]


def test_smtp_wrong_password_is_transient_so_an_operator_can_fix_it():
    server = SMTPServer(credentials=("mailer", "right")).start()
    try:
        with pytest.raises(mailer.TransientMailError):
            mailer.SMTPTransport(f"smtp://mailer:wrong@127.0.0.1:{server.port}").send(message())
    finally:
        server.stop()
    assert server.messages == []


def test_smtp_4xx_is_transient_and_5xx_is_permanent(smtp_server):
    transport = mailer.SMTPTransport(smtp_server.url)
    smtp_server.refuse_next(1, code=451)
    with pytest.raises(mailer.TransientMailError, match="451"):
        transport.send(message())

    smtp_server.refuse_next(1, code=550)
    with pytest.raises(mailer.PermanentMailError, match="550"):
        transport.send(message())

    transport.send(message())
    assert len(smtp_server.messages) == 1


def test_unreachable_server_is_transient():
    port = SMTPServer().start()
    port.stop()  # nothing listens on that port any more
    with pytest.raises(mailer.TransientMailError):
        mailer.SMTPTransport(f"smtp://127.0.0.1:{port.port}", timeout=2).send(message())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 25, False, None, None)),
        ("smtp://u:p%40ss@mail.example.com:587", ("mail.example.com", 587, False, "u", "p@ss")),
        ("smtps://mail.example.com", ("mail.example.com", 465, True, None, None)),
    ],
)
def test_smtp_url_parsing(url, expected):
    transport = mailer.SMTPTransport(url)
    got = (
        transport.host,
        transport.port,
        transport.implicit_tls,
        transport.username,
        transport.password,
    )
    assert got == expected


def test_smtp_url_must_be_smtp():
    with pytest.raises(ValueError, match="SMTP_URL"):
        mailer.SMTPTransport("http://mail.example.com")


def test_without_smtp_url_messages_go_to_the_maildir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    get_settings.cache_clear()
    try:
        transport = mailer.transport()
        assert isinstance(transport, mailer.MaildirTransport)
        transport.send(message())
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    stored = list(mailbox.Maildir(tmp_path / "mail", create=False))
    assert [m["Message-ID"] for m in stored] == ["<test.1@shop.example>"]


def test_message_ids_are_deterministic_under_the_sender_domain():
    domain = get_settings().mail_from.rpartition("@")[2].rstrip(">")
    first = mailer.deterministic_message_id("order_confirmation", "abc")
    assert first == mailer.deterministic_message_id("order_confirmation", "abc")
    assert first == f"<order_confirmation.abc@{domain}>"
