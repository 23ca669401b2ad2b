"""The transcript a visitor asks for from the widget (INTEGRATIONS.md §5): ``POST
/api/widget/transcript``, the mail received by a real SMTP server the test starts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Conversation, OutboxEntry, Visitor
from messenger.worker.runner import Worker
from tests.support.app import RELAXED_ENV, app_client
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.mail import Mailbox, smtp_server, text_and_html, work_until
from tests.support.widget import WidgetVisitor, fresh

pytestmark = pytest.mark.timeout(60)

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mail_env(env: dict[str, str], smtp: tuple[Mailbox, int], tmp_path: Path) -> dict[str, str]:
    return {
        **env,
        **RELAXED_ENV,
        "MESSENGER_DATA_DIR": str(tmp_path),
        "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}",
        "MESSENGER_MAIL_FROM": "Shop support <support@shop.example>",
        "MESSENGER_WORKER_POLL_SECONDS": "0.1",
        "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "0.1",
        "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
    }


@pytest.fixture
def widget_client(mail_env: dict[str, str]) -> ClientFactory:
    @asynccontextmanager
    async def factory(**overrides: str) -> AsyncIterator[httpx.AsyncClient]:
        async with app_client(Settings.from_env({**mail_env, **overrides})) as client:
            yield client

    return factory


def transcripts(mailbox: Mailbox) -> list[tuple[EmailMessage, list[str]]]:
    """The transcripts received (a reply the visitor missed may be mailed too)."""
    return mailbox.with_subject("Запись вашего разговора", "Transcript of your conversation")


async def test_a_requested_transcript_arrives_in_russian_without_notes(
    db_session: AsyncSession,
    desk: OperatorDesk,
    widget_client: ClientFactory,
    mail_env: dict[str, str],
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch], name="Olga")
    inbox = await make_inbox(db_session, branch=branch)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        boot = await tab.bootstrap(headers=RU, locale="ru")
        assert boot["transcript"] is True
        first = await tab.send("Где мой заказ? <b>срочно</b>", headers=RU)
        conversation_id = first["conversation_id"]
        await desk.note(conversation_id, operator.id, "staff only: check the warehouse")
        await desk.reply(conversation_id, operator.id, "Заказ отправлен вчера.")

        unknown = await tab.post("/transcript", {"conversation_id": conversation_id})
        bad = await tab.post(
            "/transcript", {"conversation_id": conversation_id, "email": "not an e-mail"}
        )
        queued = await tab.post(
            "/transcript", {"conversation_id": conversation_id, "email": " Anna@Example.COM "}
        )

    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"] == "email_required"
    assert "адрес" in unknown.json()["detail"]  # in the widget's language
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"] == "invalid"
    assert "email" in bad.json()["detail"]
    assert queued.status_code == 202, queued.text
    assert queued.json() == {"queued": True}
    conversation = await fresh(db_session, Conversation, uuid.UUID(conversation_id))
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert visitor.email == "anna@example.com"  # they had none: kept
    job = await db_session.scalar(select(OutboxEntry).where(OutboxEntry.topic == "mail.transcript"))
    assert job is not None  # written with the request, sent by the worker

    worker = Worker(
        Settings.from_env(mail_env), desk.config.get_session, desk.publisher, periodic=[]
    )

    async def arrived() -> list[tuple[EmailMessage, list[str]]]:
        return transcripts(mailbox)

    [(mail, to)] = await work_until(worker, arrived)
    assert to == ["anna@example.com"]
    assert mail["Subject"] == "Запись вашего разговора"
    text, html = text_and_html(mail)
    assert "Вот запись вашего разговора" in text
    assert "Где мой заказ? <b>срочно</b>" in text
    assert "Заказ отправлен вчера." in text
    assert "&lt;b&gt;срочно&lt;/b&gt;" in html
    assert "staff only" not in text
    assert "staff only" not in html
    assert (await fresh(db_session, OutboxEntry, job.id)).status == "done"


async def test_a_known_address_is_used_and_a_given_one_does_not_replace_it(
    db_session: AsyncSession,
    desk: OperatorDesk,
    widget_client: ClientFactory,
    mail_env: dict[str, str],
    smtp: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap(headers=EN, locale="en")
        first = await tab.send(
            "Is the blue one in stock?", headers=EN, contact={"email": "ivan@example.com"}
        )
        conversation_id = first["conversation_id"]
        known = await tab.post("/transcript", {"conversation_id": conversation_id})
        other = await tab.post(
            "/transcript", {"conversation_id": conversation_id, "email": "boss@example.com"}
        )
    assert known.status_code == 202, known.text
    assert other.status_code == 202, other.text
    conversation = await fresh(db_session, Conversation, uuid.UUID(conversation_id))
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert visitor.email == "ivan@example.com"

    worker = Worker(
        Settings.from_env(mail_env), desk.config.get_session, desk.publisher, periodic=[]
    )

    async def both() -> list[tuple[EmailMessage, list[str]]] | None:
        found = transcripts(mailbox)
        return found if len(found) == 2 else None

    received = await work_until(worker, both)
    assert sorted(to for _, to in received) == [["boss@example.com"], ["ivan@example.com"]]
    for mail, _ in received:
        assert mail["Subject"] == "Transcript of your conversation"
        text, _ = text_and_html(mail)
        assert "Is the blue one in stock?" in text


async def test_only_the_sessions_conversation_and_the_limit(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client(MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION="2/hour") as client:
        owner = WidgetVisitor(client, inbox.widget_token)
        await owner.bootstrap()
        first = await owner.send("hello", contact={"email": "owner@example.com"})
        stranger = WidgetVisitor(client, inbox.widget_token)
        await stranger.bootstrap()
        await stranger.send("me too", contact={"email": "stranger@example.com"})
        body = {"conversation_id": first["conversation_id"]}
        foreign = await stranger.post("/transcript", body)
        nonsense = await stranger.post("/transcript", {"conversation_id": "not-a-uuid"})
        anonymous = await client.post(
            "/api/widget/transcript", json=body, headers={"Origin": owner.origin}
        )
        wrong_origin = await client.post(
            "/api/widget/transcript",
            json=body,
            headers={**owner.headers(), "Origin": "https://evil.example"},
        )
        allowed = [await owner.post("/transcript", body) for _ in range(2)]
        over = await owner.post("/transcript", body)

    assert foreign.status_code == 404, foreign.text
    assert nonsense.status_code == 404, nonsense.text
    assert anonymous.status_code == 401, anonymous.text
    assert wrong_origin.status_code == 403, wrong_origin.text
    assert [r.status_code for r in allowed] == [202, 202]
    assert over.status_code == 429, over.text
    assert over.json()["error"] == "throttled"
    assert over.json()["limit"] == "transcript_per_session"
    assert over.headers["retry-after"]
    jobs = list(
        await db_session.scalars(select(OutboxEntry).where(OutboxEntry.topic == "mail.transcript"))
    )
    assert [j.payload["email"] for j in jobs] == ["owner@example.com"] * 2


async def test_without_mail_bootstrap_says_so_and_the_call_is_refused(
    db_session: AsyncSession, env: dict[str, str], tmp_path: Path
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    settings = Settings.from_env({**env, **RELAXED_ENV, "MESSENGER_DATA_DIR": str(tmp_path)})
    async with app_client(settings) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        boot = await tab.bootstrap()
        first = await tab.send("hello", contact={"email": "anna@example.com"})
        refused = await tab.post("/transcript", {"conversation_id": first["conversation_id"]})
    assert boot["transcript"] is False
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "unavailable"
    # A clear reason, in the widget's language (Russian by default).
    assert refused.json()["detail"] == (
        "Для этого чата не настроена почта: запись разговора отправить нельзя."
    )
    await db_session.commit()
    assert (
        await db_session.scalar(select(OutboxEntry).where(OutboxEntry.topic == "mail.transcript"))
        is None
    )


async def test_the_call_is_in_the_openapi_schema(widget_client: ClientFactory) -> None:
    async with widget_client() as client:
        document = (await client.get("/schema/openapi.json")).json()
    call = document["paths"]["/api/widget/transcript"]["post"]
    assert {"202", "404", "409", "422", "429"} <= set(call["responses"])
    assert "email_required" in call["description"]
    bootstrap = document["components"]["schemas"]["BootstrapResponse"]
    assert bootstrap["properties"]["transcript"]["type"] == "boolean"
