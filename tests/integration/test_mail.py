"""E-mail to visitors, received by a real SMTP server the test starts (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Conversation,
    ConversationChannel,
    Inbox,
    MessageSender,
    OutboxEntry,
    User,
    Visitor,
)
from messenger.worker.runner import Worker
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.mail import Mailbox, smtp_server, text_and_html, work_until
from tests.support.servers import free_port


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_settings(env: dict[str, str], smtp: tuple[Mailbox, int]) -> Settings:
    return Settings.from_env(
        {
            **env,
            "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}",
            "MESSENGER_MAIL_FROM": "Shop support <support@shop.example>",
            "MESSENGER_WORKER_POLL_SECONDS": "0.1",
            "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "0.1",
            "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
        }
    )


async def conversation_with(
    db: AsyncSession,
    *,
    channel: ConversationChannel,
    locale: str,
    first: str,
    email_address: str | None = "anna@example.com",
) -> tuple[Conversation, User]:
    branch = await make_branch(db)
    operator = await make_user(db, [branch], name="Olga")
    inbox = await make_inbox(db, branch=branch)
    visitor = Visitor(inbox_id=inbox.id, name="Anna", email=email_address, locale=locale)
    db.add(visitor)
    await db.flush()
    service = ConversationService(session=db)
    conversation = await service.start(
        inbox=inbox, visitor=visitor, branch_id=branch.id, channel=channel
    )
    await db.flush()
    await service.append(conversation, sender=MessageSender.VISITOR, body=first, started=True)
    await db.commit()
    return conversation, operator


async def test_a_reply_to_an_offline_form_arrives_by_mail_in_russian_with_the_thread(
    db_session: AsyncSession,
    desk: OperatorDesk,
    mail_settings: Settings,
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp
    conversation, operator = await conversation_with(
        db_session,
        channel=ConversationChannel.OFFLINE_FORM,
        locale="ru-RU",
        first="Где мой заказ? <b>срочно</b>",
    )
    await desk.note(conversation.id, operator.id, "staff only: check the warehouse")
    await desk.reply(conversation.id, operator.id, "Заказ отправлен вчера.")
    worker = Worker(mail_settings, desk.config.get_session, desk.publisher, periodic=[])

    async def arrived() -> list[EmailMessage]:
        return mailbox.messages

    [mail] = await work_until(worker, arrived)
    assert mailbox.recipients == [["anna@example.com"]]
    assert mail["Subject"] == "Новый ответ на ваше сообщение"
    assert mail["From"] == "Shop support <support@shop.example>"
    assert mail.is_multipart()
    text, html = text_and_html(mail)
    assert "Ответ от Olga на ваше сообщение:" in text
    assert "Заказ отправлен вчера." in text
    assert "> " in text
    assert "Где мой заказ? <b>срочно</b>" in text
    assert "Ранее в этом разговоре" in text
    assert "staff only" not in text
    assert "staff only" not in html
    # Visitor text is escaped in the HTML part, and nothing is a link.
    assert "&lt;b&gt;срочно&lt;/b&gt;" in html
    assert "<b>срочно</b>" not in html
    assert "href" not in html
    assert "http" not in text
    await db_session.commit()
    job = await db_session.scalar(select(OutboxEntry).where(OutboxEntry.topic == "mail.reply"))
    assert job is not None
    assert job.status == "done"


async def test_a_reply_in_a_live_chat_is_mailed_in_english_when_not_received(
    db_session: AsyncSession,
    desk: OperatorDesk,
    env: dict[str, str],
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp
    settings = Settings.from_env(
        {
            **env,
            "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "MESSENGER_MAIL_FROM": "support@shop.example",
            "MESSENGER_MAIL_OFFLINE_AFTER_SECONDS": "0.3",
        }
    )
    conversation, operator = await conversation_with(
        db_session, channel=ConversationChannel.CHAT, locale="en-GB", first="Is it in stock?"
    )
    await desk.reply(conversation.id, operator.id, "Yes, two left.")
    worker = Worker(settings, desk.config.get_session, desk.publisher, periodic=[])

    async def arrived() -> list[EmailMessage]:
        return mailbox.messages

    [mail] = await work_until(worker, arrived)
    assert mail["Subject"] == "New reply to your message"
    text, _ = text_and_html(mail)
    assert "Yes, two left." in text
    assert "Is it in stock?" in text


async def test_a_reply_the_widget_received_is_not_mailed(
    db_session: AsyncSession,
    desk: OperatorDesk,
    env: dict[str, str],
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp
    settings = Settings.from_env(
        {
            **env,
            "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "MESSENGER_MAIL_FROM": "support@shop.example",
            "MESSENGER_MAIL_OFFLINE_AFTER_SECONDS": "0.3",
        }
    )
    conversation, operator = await conversation_with(
        db_session, channel=ConversationChannel.CHAT, locale="en", first="Hi"
    )
    reply = await desk.reply(conversation.id, operator.id, "Seen live")
    # The open widget stamps it delivered (what widget/stream.py does).
    from datetime import UTC, datetime

    from messenger.db.models import Message

    row = await db_session.get(Message, reply.id)
    assert row is not None
    row.delivered_at = datetime.now(UTC)
    await db_session.commit()
    worker = Worker(settings, desk.config.get_session, desk.publisher, periodic=[])

    async def job_done() -> bool:
        await db_session.commit()
        job = await db_session.scalar(select(OutboxEntry).where(OutboxEntry.topic == "mail.reply"))
        return job is not None and job.status == "done"

    await work_until(worker, job_done)
    assert mailbox.messages == []


async def test_a_mail_is_retried_while_the_smtp_server_is_away(
    db_session: AsyncSession, desk: OperatorDesk, env: dict[str, str]
) -> None:
    port = free_port()
    settings = Settings.from_env(
        {
            **env,
            "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "MESSENGER_MAIL_FROM": "support@shop.example",
            "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "0.1",
            "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
        }
    )
    conversation, operator = await conversation_with(
        db_session, channel=ConversationChannel.OFFLINE_FORM, locale="en", first="Hello?"
    )
    await desk.reply(conversation.id, operator.id, "Back to you")
    worker = Worker(settings, desk.config.get_session, desk.publisher, periodic=[])

    async def failed_once() -> bool:
        await db_session.commit()
        job = await db_session.scalar(select(OutboxEntry).where(OutboxEntry.topic == "mail.reply"))
        return job is not None and job.attempts >= 1 and job.last_error is not None

    await work_until(worker, failed_once)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:

        async def arrived() -> list[EmailMessage]:
            return mailbox.messages

        [mail] = await work_until(worker, arrived)
        assert "Back to you" in text_and_html(mail)[0]
    finally:
        controller.stop()


async def test_a_transcript_is_mailed_on_resolve_when_the_inbox_says_so(
    db_session: AsyncSession,
    desk: OperatorDesk,
    mail_settings: Settings,
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp
    conversation, operator = await conversation_with(
        db_session, channel=ConversationChannel.CHAT, locale="en", first="Thanks for the help"
    )
    inbox = await db_session.get(Inbox, conversation.inbox_id)
    assert inbox is not None
    inbox.settings = {**inbox.settings, "mail": {"transcript_on_resolve": True}}
    await db_session.commit()
    await desk.set_status(conversation.id, operator.id, "resolved")
    worker = Worker(mail_settings, desk.config.get_session, desk.publisher, periodic=[])

    async def arrived() -> list[EmailMessage]:
        return mailbox.messages

    [mail] = await work_until(worker, arrived)
    assert mail["Subject"] == "Transcript of your conversation"
    assert "Thanks for the help" in text_and_html(mail)[0]
