"""Admin pages over HTTP: inboxes (create, settings, token, warnings, routing rules),
branches and operators. Real PostgreSQL and Redis; an in-process app per client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.db.models import Branch, Inbox, RoutingRule, User, UserRole
from tests.support.app import app_client
from tests.support.dashboard import form_post, fresh, listed_ids, quick_user, sign_in, signed_in
from tests.support.factories import make_branch, make_conversation, make_inbox

pytestmark = pytest.mark.timeout(90)

NEW_OPERATOR_PASSWORD = "nina's long password"


@dataclass
class Staff:
    alpha: Branch
    beta: Branch
    admin: User
    operator: User


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def staff(db_session: AsyncSession) -> Staff:
    alpha = await make_branch(db_session, "Alpha")
    beta = await make_branch(db_session, "Beta")
    admin = await quick_user(
        db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
    )
    operator = await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    await db_session.commit()
    return Staff(alpha=alpha, beta=beta, admin=admin, operator=operator)


@pytest.fixture
async def admin(app_env: dict[str, str], staff: Staff) -> Any:
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, staff.admin.email)
        yield client


async def count(db: AsyncSession, model: type[Any]) -> int:
    await db.commit()
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def inbox_named(db: AsyncSession, name: str) -> Inbox:
    await db.commit()
    inbox = await db.scalar(
        select(Inbox).where(Inbox.name == name).execution_options(populate_existing=True)
    )
    assert inbox is not None, f"no inbox {name!r}"
    return inbox


def settings_form(**changes: str) -> dict[str, str]:
    """A complete, valid inbox settings form, as the browser submits it."""
    form = {
        "name": "Moscow shop",
        "is_active": "1",
        "branch_id": "",
        "fallback_branch_id": "",
        "allowed_domains": "shop.ru\nwww.shop.ru",
        "privacy_url": "https://shop.ru/privacy",
        "privacy_text": "We keep your data safe",
        "timezone": "Europe/Moscow",
        "hours_mon": "09:00-13:00, 14:00-18:00",
        "hours_tue": "",
        "hours_wed": "",
        "hours_thu": "",
        "hours_fri": "09:00-18:00",
        "hours_sat": "10:00-16:00",
        "hours_sun": "",
        "offline_message": "Leave us a note",
        "attachments_enabled": "1",
        "attachments_max_kb": "2048",
        "attachments_types": "image/png\napplication/pdf",
        "locale": "ru",
        "greeting": "Здравствуйте!",
        "color": "#ff0000",
        "position": "left",
        "title": "Chat with us",
        "identity_required": "1",
        "csat_enabled": "1",
        "prechat_enabled": "1",
        "prechat_name": "required",
        "prechat_email": "optional",
        "prechat_phone": "",
        "prechat_consent": "required",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


# --- inboxes -------------------------------------------------------------------------------


async def test_create_an_inbox_from_the_form(admin, staff, db_session):
    page = await admin.get("/admin/inboxes")
    assert page.status_code == 200
    assert "No inboxes yet." in page.text

    created = await form_post(
        admin,
        "/admin/inboxes",
        {
            "name": "Moscow shop",
            "branch_id": str(staff.alpha.id),
            "allowed_domains": "Shop.RU\n*.shop.ru",
        },
    )
    assert created.status_code == 303
    inbox = await inbox_named(db_session, "Moscow shop")
    assert created.headers["location"] == f"/admin/inboxes/{inbox.id}"
    assert inbox.branch_id == staff.alpha.id
    assert inbox.settings["security"]["allowed_domains"] == ["shop.ru", "*.shop.ru"]
    assert inbox.widget_token.startswith("wt_")

    detail = await admin.get(created.headers["location"])
    assert detail.status_code == 200
    assert inbox.widget_token in detail.text
    assert "/static/messenger/widget.js" in detail.text  # the embed snippet
    assert 'class="warning"' not in detail.text
    listing = await admin.get("/admin/inboxes")
    assert f'<a href="/admin/inboxes/{inbox.id}">Moscow shop</a>' in listing.text

    glob = await form_post(admin, "/admin/inboxes", {"name": "Global", "branch_id": ""})
    assert glob.status_code == 303
    assert (await inbox_named(db_session, "Global")).branch_id is None

    for bad in (
        {"name": "Bad domain", "allowed_domains": "http://x/"},
        {"name": "   ", "allowed_domains": "shop.ru"},
        {"name": "No branch", "branch_id": "999999"},
    ):
        refused = await form_post(admin, "/admin/inboxes", bad)
        assert refused.status_code == 400, bad
        assert 'role="alert"' in refused.text
        assert await count(db_session, Inbox) == 2, bad


async def test_save_inbox_settings_and_see_them_stored(admin, staff, db_session):
    inbox = await make_inbox(db_session, name="Old name", branch=staff.alpha, domains=["old.ru"])
    url = f"/admin/inboxes/{inbox.id}"

    saved = await form_post(admin, url, settings_form(branch_id=str(staff.alpha.id)))
    assert saved.status_code == 200
    assert 'role="status"' in saved.text  # "Saved."
    stored = await fresh(db_session, Inbox, inbox.id)
    assert stored.name == "Moscow shop"
    assert stored.branch_id == staff.alpha.id
    assert stored.is_active is True
    assert stored.settings == {
        "security": {"allowed_domains": ["shop.ru", "www.shop.ru"]},
        "privacy": {"url": "https://shop.ru/privacy", "text": "We keep your data safe"},
        "working_hours": {
            "timezone": "Europe/Moscow",
            "week": {
                "mon": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
                "fri": [{"start": "09:00", "end": "18:00"}],
                "sat": [{"start": "10:00", "end": "16:00"}],
            },
        },
        "offline": {"message": "Leave us a note"},
        "attachments": {
            "enabled": True,
            "max_bytes": 2048 * 1024,
            "content_types": ["image/png", "application/pdf"],
        },
        "locale": "ru",
        "greeting": "Здравствуйте!",
        "appearance": {"color": "#ff0000", "position": "left", "title": "Chat with us"},
        "identity": {"required": True},
        "prechat": {
            "enabled": True,
            "fields": [
                {"name": "name", "required": True},
                {"name": "email", "required": False},
                {"name": "consent", "required": True},
            ],
        },
        "csat": {"enabled": True},
        "assignment": {"mode": "manual"},
        "mail": {"transcript_on_resolve": False},
    }

    # The form shows what is stored.
    page = await admin.get(url)
    for shown in (
        'value="09:00-13:00, 14:00-18:00"',
        'value="Здравствуйте!"',
        'value="Europe/Moscow"',
        '<option value="ru" selected>',
        'name="attachments_enabled" value="1" checked',
        'value="2048"',
        'name="identity_required" value="1" checked',
        'name="csat_enabled" value="1" checked',
        '<option value="required" selected>',
        '<option value="optional" selected>',
    ):
        assert shown in page.text, shown

    # Global, with a fallback branch, always open, no attachments, the browser's language.
    again = await form_post(
        admin,
        url,
        settings_form(
            fallback_branch_id=str(staff.beta.id),
            always_open="1",
            attachments_enabled=None,
            locale="",
            greeting="",
        ),
    )
    assert again.status_code == 200
    stored = await fresh(db_session, Inbox, inbox.id)
    assert (stored.branch_id, stored.fallback_branch_id) == (None, staff.beta.id)
    assert stored.settings["working_hours"] is None
    assert stored.settings["attachments"]["enabled"] is False
    assert stored.settings["locale"] is None
    assert stored.settings["greeting"] is None


async def test_an_invalid_setting_is_refused_and_nothing_is_saved(admin, staff, db_session):
    inbox = await make_inbox(db_session, name="Kept", branch=staff.alpha, domains=["kept.ru"])
    before = dict((await fresh(db_session, Inbox, inbox.id)).settings)
    url = f"/admin/inboxes/{inbox.id}"
    for field, value, reason in (
        ("hours_mon", "09:00-25:00", "25:00"),
        ("hours_tue", "25:00-26:00", "25:00"),
        ("hours_wed", "nine to five", "09:00-18:00"),
        ("allowed_domains", "http://x/", "http://x/"),
        ("timezone", "Mars/Olympus", "Mars/Olympus"),
        ("attachments_types", "text/html", "text/html"),
        ("attachments_max_kb", "lots", "number"),
        ("privacy_url", "javascript:alert(1)", "privacy.url"),
        ("color", "red", "appearance.color"),
        ("name", "", "name"),
    ):
        refused = await form_post(admin, url, settings_form(**{field: value}))
        assert refused.status_code == 400, field
        alert = re.search(r'<p class="error" role="alert">(.*?)</p>', refused.text, re.S)
        assert alert, f"no reason shown for {field}"
        assert reason in alert.group(1), (field, alert.group(1))
        stored = await fresh(db_session, Inbox, inbox.id)
        assert stored.name == "Kept", field
        assert stored.settings == before, field
        assert stored.branch_id == staff.alpha.id, field


async def test_rotating_the_token_retires_the_old_one(admin, staff, db_session):
    inbox = await make_inbox(db_session, name="Shop", branch=staff.alpha, domains=["shop.example"])
    old = inbox.widget_token

    async def bootstrap(token: str) -> int:
        response = await admin.post(
            "/api/widget/bootstrap",
            json={"widget_token": token},
            headers={"Origin": "https://shop.example"},
        )
        return response.status_code

    assert await bootstrap(old) == 200
    rotated = await form_post(admin, f"/admin/inboxes/{inbox.id}/rotate-token", {})
    assert rotated.status_code == 303
    assert rotated.headers["location"] == f"/admin/inboxes/{inbox.id}"
    stored = await fresh(db_session, Inbox, inbox.id)
    assert stored.widget_token != old
    assert stored.widget_token.startswith("wt_")
    assert stored.token_rotated_at is not None
    assert await bootstrap(old) == 404
    assert await bootstrap(stored.widget_token) == 200
    page = await admin.get(f"/admin/inboxes/{inbox.id}")
    assert stored.widget_token in page.text
    assert old not in page.text


async def test_warning_for_localhost_ip_and_test_domains(admin, staff, db_session):
    risky = {
        "Local": ["localhost"],
        "Loopback": ["127.0.0.1"],
        "Test TLD": ["shop.test"],
        "Docs": ["www.example.com"],
    }
    ids = {}
    for name, domains in {**risky, "Real": ["shop.ru", "*.shop.ru"]}.items():
        ids[name] = (await make_inbox(db_session, name=name, domains=domains)).id
    for name, inbox_id in ids.items():
        page = await admin.get(f"/admin/inboxes/{inbox_id}")
        warning = re.search(r'<p class="warning" role="note">(.*?)</p>', page.text, re.S)
        if name in risky:
            assert warning, f"no warning on {name}"
            assert risky[name][0] in warning.group(1)
        else:
            assert warning is None, f"a warning on {name}"
    listing = await admin.get("/admin/inboxes")
    assert listing.text.count("test or local addresses") == len(risky)

    # Adding a local address to the real one brings the warning there too.
    real = f"/admin/inboxes/{ids['Real']}"
    saved = await form_post(
        admin, real, settings_form(name="Real", allowed_domains="shop.ru\nlocalhost:8080")
    )
    assert saved.status_code == 200
    assert '<p class="warning" role="note">' in saved.text
    assert "localhost:8080" in saved.text


async def test_routing_rules_add_reorder_and_delete(admin, staff, db_session):
    inbox = await make_inbox(db_session, name="Global", domains=["shop.ru"], fallback=staff.alpha)
    url = f"/admin/inboxes/{inbox.id}"

    async def rules() -> list[tuple[str, int]]:
        await db_session.commit()
        rows = await db_session.scalars(
            select(RoutingRule)
            .where(RoutingRule.inbox_id == inbox.id)
            .order_by(RoutingRule.position)
            .execution_options(populate_existing=True)
        )
        return [(rule.name, rule.position) for rule in rows]

    for name, branch, extra in (
        ("Russia", staff.alpha, {"countries": "ru, kz", "languages": "ru-RU"}),
        ("English pages", staff.beta, {"page_urls": "https://shop.ru/en/*"}),
        ("Everyone else", staff.alpha, {}),
    ):
        added = await form_post(
            admin, f"{url}/rules", {"name": name, "target_branch_id": str(branch.id), **extra}
        )
        assert added.status_code == 200, added.text
    assert await rules() == [("Russia", 1), ("English pages", 2), ("Everyone else", 3)]
    first = await db_session.scalar(select(RoutingRule).where(RoutingRule.name == "Russia"))
    assert first.conditions["countries"] == ["RU", "KZ"]
    assert first.conditions["languages"] == ["ru"]
    ids = {
        rule.name: rule.id
        for rule in await db_session.scalars(
            select(RoutingRule).where(RoutingRule.inbox_id == inbox.id)
        )
    }

    async def act(name: str, action: str) -> None:
        response = await form_post(admin, f"{url}/rules/{ids[name]}/{action}", {})
        assert response.status_code == 303
        assert response.headers["location"] == f"{url}#routing"

    await act("Russia", "down")
    assert [n for n, _ in await rules()] == ["English pages", "Russia", "Everyone else"]
    await act("Everyone else", "up")
    assert [n for n, _ in await rules()] == ["English pages", "Everyone else", "Russia"]
    await act("English pages", "up")  # already first
    await act("Russia", "down")  # already last
    assert await rules() == [("English pages", 1), ("Everyone else", 2), ("Russia", 3)]
    await act("Everyone else", "delete")
    assert await rules() == [("English pages", 1), ("Russia", 2)]

    page = await admin.get(url)
    assert page.text.index("English pages") < page.text.index("<strong>Russia</strong>")
    assert "Everyone else" not in page.text

    bad = await form_post(admin, f"{url}/rules", {"name": "Bad", "countries": "Russia"})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text
    no_branch = await form_post(admin, f"{url}/rules", {"name": "Nowhere"})
    assert no_branch.status_code == 400
    assert [n for n, _ in await rules()] == ["English pages", "Russia"]
    other = await make_inbox(db_session, name="Other", domains=["other.ru"])
    stray = await form_post(admin, f"/admin/inboxes/{other.id}/rules/{ids['Russia']}/delete", {})
    assert stray.status_code == 422  # not a rule of that inbox: nothing deleted
    assert [n for n, _ in await rules()] == ["English pages", "Russia"]


# --- branches ------------------------------------------------------------------------------


async def test_branches_create_rename_and_deactivate(admin, staff, db_session):
    created = await form_post(admin, "/admin/branches", {"name": "Kazan"})
    assert created.status_code == 303
    await db_session.commit()
    kazan = await db_session.scalar(select(Branch).where(Branch.name == "Kazan"))
    assert kazan is not None
    assert kazan.is_active is True
    page = await admin.get("/admin/branches")
    assert 'value="Kazan"' in page.text

    for bad in ("Kazan", "kazan", "  ", "x" * 201):
        refused = await form_post(admin, "/admin/branches", {"name": bad})
        assert refused.status_code == 400, bad
        assert 'role="alert"' in refused.text
    assert await count(db_session, Branch) == 3

    url = f"/admin/branches/{kazan.id}"
    renamed = await form_post(admin, url, {"name": "Kazan-2", "is_active": "1"})
    assert renamed.status_code == 303
    assert (await fresh(db_session, Branch, kazan.id)).name == "Kazan-2"
    for clash in ("Alpha", "ALPHA", ""):
        refused = await form_post(admin, url, {"name": clash, "is_active": "1"})
        assert refused.status_code == 400, clash
        assert (await fresh(db_session, Branch, kazan.id)).name == "Kazan-2"

    deactivated = await form_post(admin, url, {"name": "Kazan-2"})  # the box left unticked
    assert deactivated.status_code == 303
    stored = await fresh(db_session, Branch, kazan.id)
    assert (stored.name, stored.is_active) == ("Kazan-2", False)
    page = await admin.get("/admin/branches")
    assert re.search(rf'action="{url}".*?name="is_active" value="1" >', page.text, re.S)


# --- operators -----------------------------------------------------------------------------


async def test_operators_create_edit_branches_and_deactivate(app_env, admin, staff, db_session):
    beta_conversation = await make_conversation(
        db_session,
        await make_inbox(db_session, name="Beta shop", branch=staff.beta, domains=["b.ru"]),
        staff.beta.id,
        name="Beta visitor",
    )
    alpha_conversation = await make_conversation(
        db_session,
        await make_inbox(db_session, name="Alpha shop", branch=staff.alpha, domains=["a.ru"]),
        staff.alpha.id,
        name="Alpha visitor",
    )
    form = {
        "email": "Nina@Example.com",
        "name": "Nina",
        "role": "operator",
        "branch_ids": [str(staff.alpha.id), str(staff.beta.id)],
        "password": NEW_OPERATOR_PASSWORD,
    }
    created = await form_post(admin, "/admin/operators", form)
    assert created.status_code == 303
    await db_session.commit()
    nina = await db_session.scalar(
        select(User).where(User.email == "nina@example.com").options(selectinload(User.branches))
    )
    assert nina is not None
    assert (nina.role, nina.is_active) == (UserRole.OPERATOR, True)
    assert nina.branch_ids == {staff.alpha.id, staff.beta.id}

    for bad in (
        {**form, "email": "other@example.com", "branch_ids": []},  # an operator needs a branch
        {**form, "email": "nina@example.com"},  # taken
        {**form, "email": "not an e-mail"},
        {**form, "email": "short@example.com", "password": "short"},
        {**form, "email": "role@example.com", "role": "superuser"},
    ):
        refused = await form_post(admin, "/admin/operators", bad)
        assert refused.status_code == 400, bad
        assert 'role="alert"' in refused.text
    assert await count(db_session, User) == 3

    async with app_client(app_env, relaxed=True) as browser:
        await signed_in(browser, "nina@example.com", NEW_OPERATOR_PASSWORD)
        both = await browser.get("/conversations", params={"status": "any"})
        assert listed_ids(both.text) == {str(beta_conversation.id), str(alpha_conversation.id)}

        url = f"/admin/operators/{nina.id}"
        # A refused edit changes nothing (the short password is checked before anything).
        half = await form_post(
            admin,
            url,
            {
                "name": "Nina K",
                "role": "operator",
                "branch_ids": [str(staff.beta.id)],
                "is_active": "1",
                "password": "short",
            },
        )
        assert half.status_code == 400
        stored = await fresh(db_session, User, nina.id)
        assert (stored.name, stored.branch_ids) == ("Nina", {staff.alpha.id, staff.beta.id})

        edited = await form_post(
            admin,
            url,
            {
                "name": "Nina K",
                "role": "operator",
                "branch_ids": [str(staff.beta.id)],
                "is_active": "1",
            },
        )
        assert edited.status_code == 303
        stored = await fresh(db_session, User, nina.id)
        assert (stored.name, stored.branch_ids) == ("Nina K", {staff.beta.id})
        # Her scope follows at once: Alpha's conversation is gone from her list and page.
        only_beta = await browser.get("/conversations", params={"status": "any"})
        assert listed_ids(only_beta.text) == {str(beta_conversation.id)}
        assert (await browser.get(f"/conversations/{alpha_conversation.id}")).status_code == 404

        no_branch = await form_post(
            admin, url, {"name": "Nina K", "role": "operator", "is_active": "1"}
        )
        assert no_branch.status_code == 400
        assert (await fresh(db_session, User, nina.id)).branch_ids == {staff.beta.id}

        deactivated = await form_post(
            admin, url, {"name": "Nina K", "role": "operator", "branch_ids": [str(staff.beta.id)]}
        )
        assert deactivated.status_code == 303
        assert (await fresh(db_session, User, nina.id)).is_active is False
        gone = await browser.get("/conversations", follow_redirects=False)
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/login")
        again = await sign_in(browser, "nina@example.com", NEW_OPERATOR_PASSWORD)
        assert again.status_code == 400

    # An admin cannot lock themselves out.
    for own in (
        {"name": "Ada", "role": "admin"},  # not active
        {"name": "Ada", "role": "operator", "is_active": "1", "branch_ids": [str(staff.alpha.id)]},
    ):
        refused = await form_post(admin, f"/admin/operators/{staff.admin.id}", own)
        assert refused.status_code == 400, own
    stored = await fresh(db_session, User, staff.admin.id)
    assert (stored.is_active, stored.role) == (True, UserRole.ADMIN)
    assert (await admin.get("/admin/operators")).status_code == 200


async def test_refusals_are_shown_in_the_admins_language(admin, staff, db_session):
    """The reasons from the settings structs, the allowlist and the routing conditions are
    catalog messages: a Russian admin reads them in Russian, in the form (400)."""
    inbox = await make_inbox(db_session, name="Kept", branch=staff.alpha, domains=["kept.ru"])
    url = f"/admin/inboxes/{inbox.id}"
    admin.headers["Accept-Language"] = "ru"
    for form, expected in (
        (settings_form(timezone="Mars/Olympus"), "неизвестный часовой пояс"),
        (settings_form(allowed_domains="http://x/"), "укажите имя хоста"),
        (settings_form(color="red"), "значение в неверном формате"),
        (settings_form(hours_mon="09:00-25:00"), "не время в формате"),
    ):
        refused = await form_post(admin, url, form)
        assert refused.status_code == 400
        alert = re.search(r'<p class="error" role="alert">(.*?)</p>', refused.text, re.S)
        assert alert
        assert expected in alert.group(1), alert.group(1)
    bad_rule = await form_post(
        admin,
        f"{url}/rules",
        {"name": "Bad", "countries": "Russia", "target_branch_id": str(staff.alpha.id)},
    )
    assert bad_rule.status_code == 400
    assert "не двухбуквенный код страны" in bad_rule.text
