"""A real SMTP server for the mail tests (aiosmtpd), and reading what it received."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from messenger.worker.runner import Worker
from tests.support.servers import free_port
from tests.support.waiting import eventually


class Mailbox:
    """aiosmtpd's handler: every message the server accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def with_subject(self, *subjects: str) -> list[tuple[EmailMessage, list[str]]]:
        """The mails received with one of ``subjects``, each with its recipients."""
        return [
            (mail, to)
            for mail, to in zip(self.messages, self.recipients, strict=True)
            if mail["Subject"] in subjects
        ]


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on a free port of 127.0.0.1: (its mailbox, its port)."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def work_until(worker: Worker, check: Any, within: float = 15.0) -> Any:
    """Run the worker's ticks until ``check()`` answers something truthy."""
    async with httpx.AsyncClient() as client:

        async def step() -> Any:
            await worker.tick(client)
            return await check()

        return await eventually(step, within=within, interval=0.05)


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content(), html.get_content()
