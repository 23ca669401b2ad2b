"""The audit log: every family of configuration and access changes is written with who,
from where and what changed — never a secret; sign-in, sign-out and failed sign-ins over
HTTP; the admin page (filters, pages, 404 for operators); the CLI's actor is "cli"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.api_tokens.service import ApiTokenService
from messenger.branches.service import BranchService
from messenger.conversations import labels
from messenger.db import audit
from messenger.db.models import AuditEntry, Inbox, UserRole
from messenger.inboxes.service import InboxService
from messenger.replies.service import Draft, SavedReplyService
from messenger.routing.service import RoutingRuleService
from messenger.webhooks.service import WebhookService
from tests.support.app import app_client
from tests.support.dashboard import quick_user, sign_in, signed_in
from tests.support.env import cli_env, run_cli

pytestmark = [pytest.mark.usefixtures("clean_db"), pytest.mark.timeout(120)]

FAMILIES = {
    "branch.create", "branch.update",
    "operator.create", "operator.update", "operator.password",
    "inbox.create", "inbox.token_rotate", "inbox.identity_secret_rotate", "inbox.allowlist",
    "inbox.settings",
    "routing_rule.create", "routing_rule.move", "routing_rule.delete",
    "api_token.create", "api_token.revoke",
    "webhook.create", "webhook.update", "webhook.delete",
    "label.create", "label.update", "label.delete",
    "saved_reply.create", "saved_reply.update", "saved_reply.delete",
}  # fmt: skip


async def audit_text(db: AsyncSession) -> str:
    return repr((await db.execute(text("SELECT * FROM audit_entries"))).all())


async def test_every_family_is_audited_with_who_where_and_no_secret(
    db_session: AsyncSession,
) -> None:
    db = db_session
    admin = await quick_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    audit.set_actor(db, audit.Actor(admin.id, admin.email, "203.0.113.7"))
    secrets: list[str] = []

    branches = BranchService(session=db)
    alpha = await branches.create_branch("Alpha")
    await branches.rename(alpha.id, "Alpha East")
    await branches.set_active(alpha.id, active=True)

    users = UserService(session=db)
    secrets += ["first-password-123", "second-password-456", "third-password-789"]
    anna = await users.create_user(
        email="anna@example.com", name="Anna", password=secrets[0], branches=[alpha]
    )
    await users.update_staff(
        anna.id, actor=admin, name="Anna K", role=UserRole.OPERATOR, active=True,
        branches=[alpha], password=secrets[1],
    )  # fmt: skip
    await users.set_password(anna.id, secrets[2])

    inboxes = InboxService(session=db)
    inbox = await inboxes.create_inbox(name="Shop", domains=["shop.example"], branch=None)
    secrets += [inbox.widget_token, inbox.identity_secret or "no-secret"]
    await inboxes.rotate_token(inbox.id, revoke_sessions=True)
    await inboxes.rotate_identity_secret(inbox.id)
    row = await db.get(Inbox, inbox.id)
    assert row is not None
    secrets += [row.widget_token, row.identity_secret or "no-secret"]
    await inboxes.set_domains(inbox.id, ["shop.example", "new.example"])
    settings = dict(row.settings)
    settings["greeting"] = "Hello there"
    await inboxes.update_settings(inbox.id, settings)

    rules = RoutingRuleService(session=db)
    first = await rules.add_rule(
        inbox.id, name="RU", conditions={"countries": ["RU"]}, target_branch_id=alpha.id
    )
    await rules.add_rule(
        inbox.id, name="KZ", conditions={"countries": ["KZ"]}, target_branch_id=alpha.id
    )
    await rules.move(inbox.id, first.id, 1)
    await rules.delete_rule(inbox.id, first.id)

    tokens = ApiTokenService(session=db)
    issued = await tokens.issue("CRM", [alpha.id])
    secrets += [issued.token, issued.row.token_hash]
    await tokens.revoke(issued.row.id)

    hooks = WebhookService(db, allow_private=True)
    endpoint = await hooks.create("http://127.0.0.1:9/hook?key=querysecret", ["message.created"])
    secrets += [endpoint.secret, "querysecret"]
    await hooks.set_enabled(endpoint.id, False)
    await hooks.delete(endpoint.id)

    label = await labels.create_label(db, "Срочно", "Urgent", "#ff0000")
    await labels.update_label(db, label.id, "Срочно!", "Urgent!", "#00ff00")
    await labels.delete_label(db, label.id)

    replies = SavedReplyService(db)
    shared = await replies.create(admin, Draft(shortcut="hi", body="Hello!", scope="global"))
    await replies.update(admin, shared.id, Draft(shortcut="hi", body="Hi!", scope="global"))
    await replies.delete(admin, shared.id)
    await replies.create(admin, Draft(shortcut="me", body="Personal", scope="personal"))
    await db.commit()

    rows = list(await db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert {r.action for r in rows} == FAMILIES  # a personal saved reply is not audited
    assert {(r.actor_id, r.actor_email, r.ip) for r in rows} == {
        (admin.id, "ada@example.com", "203.0.113.7")
    }
    dumped = await audit_text(db)
    for secret in secrets:
        assert secret not in dumped, secret
    allowlist = next(r for r in rows if r.action == "inbox.allowlist")
    assert allowlist.changes == {
        "before": {"allowed_domains": ["shop.example"]},
        "after": {"allowed_domains": ["shop.example", "new.example"]},
    }
    greeting = next(r for r in rows if r.action == "inbox.settings")
    assert greeting.changes["after"]["greeting"] == "Hello there"
    edit = next(r for r in rows if r.action == "operator.update")
    assert edit.changes["before"]["name"] == "Anna"
    assert edit.changes["after"]["name"] == "Anna K"
    assert edit.changes["password_changed"] is True
    hook = next(r for r in rows if r.action == "webhook.create")
    assert hook.changes["url"] == "http://127.0.0.1:9/hook"


def test_redact_hides_secret_keys_at_any_depth() -> None:
    redacted = audit.redact(
        {"a": {"widget_token": "wt_x", "list": [{"password": "p", "ok": 1}]}, "Secret": "s"}
    )
    assert redacted == {
        "a": {"widget_token": "[redacted]", "list": [{"password": "[redacted]", "ok": 1}]},
        "Secret": "[redacted]",
    }


async def test_sign_in_sign_out_and_failed_sign_in_over_http(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Path
) -> None:
    await quick_user(db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    await db_session.commit()
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with app_client(app_env, relaxed=True) as client:
        wrong = await sign_in(client, "ada@example.com", "not-the-password-at-all")
        assert wrong.status_code == 400
        assert (await sign_in(client, "ada@example.com")).status_code == 303
        page = await client.get("/admin/audit/")
        assert page.status_code == 200
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf
        out = await client.post(
            "/logout", data={"_csrf_token": csrf.group(1)}, follow_redirects=False
        )
        assert out.status_code == 303
    rows = list(await db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [r.action for r in rows] == ["auth.sign_in_failed", "auth.sign_in", "auth.sign_out"]
    assert rows[0].actor_email == "ada@example.com"
    assert rows[0].actor_id is None
    assert all(r.ip for r in rows)
    assert "not-the-password-at-all" not in await audit_text(db_session)


async def test_the_audit_page_filters_pages_and_hides_from_operators(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Path
) -> None:
    alpha = await BranchService(session=db_session).create_branch("Alpha")
    await quick_user(db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    for n in range(55):
        audit.record(
            db_session, "label.create", f"label:{n}", {"n": n}, actor=audit.Actor(None, "cli")
        )
    audit.record(db_session, "inbox.token_rotate", "inbox:9", actor=audit.Actor(1, "zed@x.org"))
    await db_session.commit()
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with (
        app_client(app_env, relaxed=True) as admin,
        app_client(app_env, relaxed=True) as operator,
    ):
        await signed_in(admin, "ada@example.com")
        first = await admin.get("/admin/audit/")
        assert first.status_code == 200
        assert first.text.count('class="audit-entry"') == 50
        assert 'rel="next"' in first.text
        second = await admin.get("/admin/audit/", params={"page": "2"})
        # 55 + the rotation + the branch + the admin's sign-in = 58
        assert second.text.count('class="audit-entry"') == 8
        by_actor = await admin.get("/admin/audit/", params={"actor": "zed"})
        assert by_actor.text.count('class="audit-entry"') == 1
        assert "inbox.token_rotate" in by_actor.text
        by_action = await admin.get("/admin/audit/", params={"action": "inbox"})
        assert by_action.text.count('class="audit-entry"') == 1
        future = await admin.get("/admin/audit/", params={"from": "2999-01-01"})
        assert "No audit entries." in future.text
        bad = await admin.get("/admin/audit/", params={"from": "yesterday", "page": "1"})
        assert bad.status_code == 200
        assert 400 <= (await admin.get("/admin/audit/", params={"page": "0"})).status_code < 500
        following = re.search(r'rel="next" href="([^"]+)"', first.text)
        assert following
        linked = await admin.get(following.group(1).replace("&amp;", "&"))
        assert linked.status_code == 200
        assert linked.text.count('class="audit-entry"') == 8

        await signed_in(operator, "anna@example.com")
        assert (await operator.get("/admin/audit/")).status_code == 404


async def test_cli_changes_are_audited_as_cli_and_listed(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    cli = cli_env(**env)
    made = run_cli("branch", "create", "--name", "Beta", env=cli)
    assert made.returncode == 0, made.stderr
    listed = run_cli("audit", "list", "--action", "branch", "--json", env=cli)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["entries"]
    assert entry["action"] == "branch.create"
    assert entry["actor_email"] == "cli"
    assert entry["changes"] == {"name": "Beta"}
    empty = run_cli("audit", "list", "--actor", "nobody", env=cli)
    assert "No audit entries." in empty.stdout
