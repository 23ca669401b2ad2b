"""Saved replies (issue 14, item 2): the scope rule and placeholders in the service, against
PostgreSQL; the page and the composer's suggestions over HTTP (CSRF, scope, 404 for
outsiders)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Branch, SavedReply, User, UserRole
from messenger.errors import InvalidInputError, NotFoundError
from messenger.replies.service import Draft, SavedReplyService, fill
from tests.support.app import app_client
from tests.support.dashboard import Visitor, csrf_of, form_post, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox

pytestmark = pytest.mark.timeout(90)


@dataclass
class Team:
    alpha: Branch
    beta: Branch
    anna: User  # operator of Alpha
    artem: User  # operator of Alpha
    boris: User  # operator of Beta
    admin: User


async def build_team(db: AsyncSession) -> Team:
    alpha, beta = await make_branch(db, "Alpha"), await make_branch(db, "Beta")
    team = Team(
        alpha=alpha,
        beta=beta,
        anna=await quick_user(db, [alpha], email="anna@example.com", name="Anna"),
        artem=await quick_user(db, [alpha], email="artem@example.com", name="Artem"),
        boris=await quick_user(db, [beta], email="boris@example.com", name="Boris"),
        admin=await quick_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN),
    )
    await db.commit()
    return team


@pytest.fixture
async def team(db_session: AsyncSession) -> Team:
    return await build_team(db_session)


async def seed(db: AsyncSession, team: Team) -> dict[str, SavedReply]:
    service = SavedReplyService(db)
    replies = {
        "global": await service.create(
            team.admin, Draft("greet", "Hello, {visitor_name}!", "global")
        ),
        "alpha": await service.create(
            team.admin, Draft("greet-alpha", "Alpha here", "branch", team.alpha.id)
        ),
        "beta": await service.create(
            team.admin, Draft("greet-beta", "Beta here", "branch", team.beta.id)
        ),
        "anna": await service.create(
            team.anna, Draft("/grets", "I am {operator_name}, {visitor_name}.")
        ),
        "artem": await service.create(team.artem, Draft("greetings", "Artem's own")),
    }
    await db.commit()
    return replies


def shortcuts(replies: list[SavedReply]) -> set[str]:
    return {r.shortcut for r in replies}


# --- the service ---------------------------------------------------------------------------


async def test_an_operator_sees_global_their_branches_and_their_own_replies(
    db_session: AsyncSession, team: Team
) -> None:
    await seed(db_session, team)
    service = SavedReplyService(db_session)
    assert shortcuts(await service.suggestions(team.anna, "")) == {
        "greet",
        "greet-alpha",
        "grets",
    }
    assert shortcuts(await service.suggestions(team.boris, "gre")) == {"greet", "greet-beta"}
    # The prefix filters, case-insensitively; the closest scope comes first.
    anna = await service.suggestions(team.anna, "GRE")
    assert [r.shortcut for r in anna] == ["grets", "greet-alpha", "greet"]
    assert shortcuts(await service.suggestions(team.anna, "greet-")) == {"greet-alpha"}
    # LIKE wildcards are text, not patterns.
    assert await service.suggestions(team.anna, "%") == []
    assert await service.suggestions(team.anna, "_") == []
    # An admin with no branch: global and their own only (the composer's rule holds for all).
    assert shortcuts(await service.suggestions(team.admin, "")) == {"greet"}


async def test_who_manages_which_reply(db_session: AsyncSession, team: Team) -> None:
    replies = await seed(db_session, team)
    service = SavedReplyService(db_session)
    assert shortcuts(await service.manageable(team.anna)) == {"grets"}
    assert len(await service.manageable(team.admin)) == 5
    # Someone else's personal reply, a branch or a global one: not the operator's to touch.
    for other in ("artem", "alpha", "global"):
        with pytest.raises(NotFoundError):
            await service.update(team.anna, replies[other].id, Draft("x", "y"))
        with pytest.raises(NotFoundError):
            await service.delete(team.anna, replies[other].id)
    with pytest.raises(InvalidInputError):
        await service.create(team.anna, Draft("team", "for all", "global"))
    with pytest.raises(InvalidInputError):
        await service.create(team.anna, Draft("team", "for Alpha", "branch", team.alpha.id))
    # An admin edits another's personal reply: it stays theirs.
    edited = await service.update(team.admin, replies["artem"].id, Draft("greetings", "new"))
    assert (edited.owner_id, edited.body) == (team.artem.id, "new")


@pytest.mark.parametrize(
    ("draft", "fragment"),
    [
        (Draft("", "text"), "shortcut"),
        (Draft("two words", "text"), "shortcut"),
        (Draft("x" * 41, "text"), "shortcut"),
        (Draft("ok", "   "), "text"),
        (Draft("ok", "x" * 5001), "text"),
        (Draft("ok", "text", "everyone"), "who"),
        (Draft("ok", "text", "branch", None), "branch"),
        (Draft("ok", "text", "branch", 999_999), "branch"),
    ],
)
async def test_a_bad_reply_is_refused_with_a_reason(
    db_session: AsyncSession, team: Team, draft: Draft, fragment: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        await SavedReplyService(db_session).create(team.admin, draft)
    assert fragment in str(refused.value.detail).lower()


def test_placeholders_are_filled_and_an_unknown_name_is_left_out() -> None:
    body = "Hello, {visitor_name}! I am {operator_name}. {visitor_name}?"
    assert fill(body, visitor_name="Vera", operator_name="Anna") == (
        "Hello, Vera! I am Anna. Vera?"
    )
    assert fill(body, visitor_name=None, operator_name="Anna") == "Hello, ! I am Anna. ?"
    assert fill("{other} stays", visitor_name="V", operator_name="A") == "{other} stays"


# --- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


async def reply_rows(db: AsyncSession) -> list[SavedReply]:
    await db.commit()
    return list(
        await db.scalars(
            select(SavedReply).order_by(SavedReply.id).execution_options(populate_existing=True)
        )
    )


async def test_the_page_creates_edits_and_deletes_personal_replies_with_csrf(
    client: httpx.AsyncClient, db_session: AsyncSession, team: Team
) -> None:
    await signed_in(client, team.anna.email)
    page = await client.get("/saved-replies")
    assert page.status_code == 200
    assert 'name="scope" value="personal"' in page.text
    assert 'value="global"' not in page.text  # an operator is offered no other scope
    no_token = await client.post(
        "/saved-replies", data={"shortcut": "hi", "body": "Hi"}, follow_redirects=False
    )
    assert no_token.status_code == 403
    assert await reply_rows(db_session) == []

    created = await form_post(
        client, "/saved-replies", {"shortcut": "hi", "body": "Hi <b>{visitor_name}</b>"}
    )
    assert created.status_code == 303
    (reply,) = await reply_rows(db_session)
    assert (reply.owner_id, reply.branch_id, reply.shortcut) == (team.anna.id, None, "hi")
    listed = (await client.get("/saved-replies")).text
    assert "Hi &lt;b&gt;{visitor_name}&lt;/b&gt;" in listed

    # An operator asking for a global reply through a forged form is refused, nothing written.
    forged = await form_post(
        client, "/saved-replies", {"shortcut": "all", "body": "x", "scope": "global"}
    )
    assert forged.status_code == 400
    assert "Only an admin" in forged.text
    assert len(await reply_rows(db_session)) == 1

    saved = await form_post(
        client, f"/saved-replies/{reply.id}", {"shortcut": "hey", "body": "Hey"}
    )
    assert saved.status_code == 303
    assert [(r.shortcut, r.body) for r in await reply_rows(db_session)] == [("hey", "Hey")]
    bad = await form_post(client, f"/saved-replies/{reply.id}", {"shortcut": "a b", "body": "x"})
    assert bad.status_code == 400

    deleted = await form_post(client, f"/saved-replies/{reply.id}/delete", {})
    assert deleted.status_code == 303
    assert await reply_rows(db_session) == []


async def test_another_operators_reply_is_a_404(
    client: httpx.AsyncClient, db_session: AsyncSession, team: Team
) -> None:
    replies = await seed(db_session, team)
    await signed_in(client, team.boris.email)
    await client.get("/saved-replies")
    for reply in ("anna", "alpha", "global"):
        reply_id = replies[reply].id
        edit = await form_post(client, f"/saved-replies/{reply_id}", {"shortcut": "x", "body": "y"})
        delete = await form_post(client, f"/saved-replies/{reply_id}/delete", {})
        assert (edit.status_code, delete.status_code) == (404, 404), reply
    assert len(await reply_rows(db_session)) == 5
    page = (await client.get("/saved-replies")).text
    assert "greet" not in page  # nothing of others listed to manage


async def test_an_admin_manages_every_scope(
    client: httpx.AsyncClient, db_session: AsyncSession, team: Team
) -> None:
    await signed_in(client, team.admin.email)
    page = await client.get("/saved-replies")
    assert csrf_of(page.text)
    for data in (
        {"shortcut": "g", "body": "global", "scope": "global"},
        {"shortcut": "b", "body": "beta", "scope": "branch", "branch_id": str(team.beta.id)},
        {"shortcut": "p", "body": "mine", "scope": "personal"},
    ):
        assert (await form_post(client, "/saved-replies", data)).status_code == 303
    rows = {r.shortcut: (r.branch_id, r.owner_id) for r in await reply_rows(db_session)}
    assert rows == {"g": (None, None), "b": (team.beta.id, None), "p": (None, team.admin.id)}


async def test_suggestions_are_scoped_filled_and_404_outside_the_branch(
    client: httpx.AsyncClient, db_session: AsyncSession, team: Team, app_env: dict[str, str]
) -> None:
    await seed(db_session, team)
    inbox_a = await make_inbox(db_session, name="A", branch=team.alpha, domains=["a.example"])
    visitor = Visitor(client, inbox_a.widget_token, "https://a.example")
    first = await visitor.offline(name="Vera", email="vera@example.com", body="hello")
    conversation_id = first["conversation_id"]

    await signed_in(client, team.anna.email)
    answer = await client.get(f"/saved-replies/for/{conversation_id}", params={"q": "gre"})
    assert answer.status_code == 200
    found = {s["shortcut"]: s["text"] for s in answer.json()}
    assert found == {
        "grets": "I am Anna, Vera.",
        "greet-alpha": "Alpha here",
        "greet": "Hello, Vera!",
    }
    too_long = await client.get(f"/saved-replies/for/{conversation_id}", params={"q": "x" * 41})
    assert too_long.status_code == 422

    async with app_client(app_env, relaxed=True) as outsider:
        await signed_in(outsider, team.boris.email)
        hidden = await outsider.get(f"/saved-replies/for/{conversation_id}", params={"q": "gre"})
        assert hidden.status_code == 404
