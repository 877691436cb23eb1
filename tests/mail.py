"""Real mail around a Mailman core: an SMTP sink for what it sends, LMTP for what it gets.

`SmtpSink` is an aiosmtpd server on 127.0.0.1 that keeps every message a
core delivers (`MailmanCore(smtp_port=sink.port)` points the core's out
runner at it). `post` hands a message to the core's LMTP runner, as the
MTA does; `subscribe` makes a member without the confirmation mail, and
`delivered`, `body` and `held` read what became of a post. `wait_until`
polls a condition (Mailman processes mail in its own runners) and fails
with what it waited for; it never sleeps blindly.
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any, TypeVar

from aiosmtpd.controller import Controller

from mailman_core import MailmanCore

T = TypeVar("T")

READER = "reader@example.org"
"""A member the tests subscribe to read what a list delivers."""


class SmtpSink:
    """Every message delivered to 127.0.0.1:`port`, parsed, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[EmailMessage, tuple[str, ...]]] = []  # with RCPT TOs
        self._lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((message, tuple(str(r).lower() for r in envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def received(self, predicate: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if predicate(m)]

    def recipients(self, predicate: Callable[[EmailMessage], bool]) -> set[str]:
        """Every envelope recipient (lower case) of the messages `predicate` picks."""
        with self._lock:
            return {r for m, rcpts in self.envelopes if predicate(m) for r in rcpts}


def post(
    core: MailmanCore,
    to: str,
    sender: str,
    subject: str,
    body: str = "Hello.\n",
    headers: dict[str, str] | None = None,
) -> str:
    """Hand a message to the core's LMTP runner; returns its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message["Message-ID"] = f"<{subject.replace(' ', '-')}.{time.monotonic_ns()}@example.org>"
    message.set_content(body)
    with smtplib.LMTP("127.0.0.1", core.lmtp_port, timeout=30) as lmtp:
        lmtp.send_message(message, from_addr=sender, to_addrs=[to])
    return str(message["Message-ID"])


def subscribe(mlist: Any, address: str) -> None:
    """Make `address` a member of `mlist` (a mailmanclient list) at once, pre-approved."""
    mlist.subscribe(address, pre_verified=True, pre_confirmed=True, pre_approved=True)


def delivered(sink: SmtpSink, subject: str) -> list[EmailMessage]:
    """The copies of the post `subject` the sink got (each test's subjects are its own)."""
    return sink.received(lambda m: str(m["Subject"]).endswith(subject))


def body(message: EmailMessage) -> str:
    """Every text/plain part of a delivered copy, as one string."""
    return "\n".join(
        str(part.get_content())
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )


def held(mlist: Any, subject: str) -> bool:
    """Whether a post with `subject` waits in `mlist`'s moderation queue."""
    return any(subject in str(message.subject) for message in mlist.held)


def wait_until(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.1)
