"""Mail transports against a real local SMTP server and a real maildir."""

from __future__ import annotations

import mailbox
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

import pytest

from services import mailer
from services.settings import get_settings
from tests.faults.proxy import FaultProxy
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


@pytest.fixture
def connections(monkeypatch):
    """Counts the SMTP connections opened (each one's TCP connect)."""
    opened: list[tuple[str, int]] = []
    connect = smtplib.SMTP.connect

    def counted(self, host="localhost", port=0, source_address=None):
        opened.append((host, port))
        return connect(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", counted)
    return opened


def test_a_thread_sends_message_after_message_on_one_connection(smtp_server, connections):
    transport = mailer.SMTPTransport(smtp_server.url)
    for number in range(3):
        transport.send(message(f"buyer{number}@example.com"))

    assert len(connections) == 1
    assert [to for _, (to,) in smtp_server.envelopes] == [
        "buyer0@example.com",
        "buyer1@example.com",
        "buyer2@example.com",
    ]


def test_each_thread_has_a_connection_of_its_own(smtp_server, connections):
    transport = mailer.SMTPTransport(smtp_server.url)
    threads = [threading.Thread(target=transport.send, args=(message(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(connections) == 3 and len(smtp_server.messages) == 3


def test_a_connection_the_server_closed_while_idle_is_replaced_before_reuse(
    smtp_server, connections
):
    proxy = FaultProxy("smtp", ("127.0.0.1", smtp_server.port))
    try:
        transport = mailer.SMTPTransport(f"smtp://127.0.0.1:{proxy.port}")
        transport.send(message("first@example.com"))
        proxy.cut()  # the server (or a NAT) ends the idle connection
        time.sleep(0.1)
        transport.send(message("second@example.com"))
    finally:
        proxy.stop()

    assert len(connections) == 2
    assert [to for _, (to,) in smtp_server.envelopes] == [
        "first@example.com",
        "second@example.com",
    ]


def test_a_refused_message_leaves_no_half_conversation_for_the_next(smtp_server, connections):
    transport = mailer.SMTPTransport(smtp_server.url)
    smtp_server.refuse_next(1, code=451)
    with pytest.raises(mailer.TransientMailError):
        transport.send(message("refused@example.com"))
    transport.send(message("accepted@example.com"))

    assert len(connections) == 2
    assert smtp_server.envelopes == [("orders@shop.example", ["accepted@example.com"])]


def test_the_settings_transport_is_one_per_url():
    url = "smtp://mail.example.com"
    assert mailer.smtp_transport(url) is mailer.smtp_transport(url)
    assert mailer.tls_context() is mailer.tls_context()
    assert mailer.tls_context().verify_mode == ssl.CERT_REQUIRED
    assert mailer.tls_context().check_hostname


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
