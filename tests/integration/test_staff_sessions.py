"""Issue 11, staff sessions and sign-in, through the app in-process (real PostgreSQL and
Redis): session fixation, new session ids, CSRF renewal, cookie names under https, sign-in
delays that lock nobody out, and the proof-of-work asked for instead of a refusal."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from altcha import solve_challenge_v1
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.db.models import UserRole
from tests.support.app import app_client
from tests.support.dashboard import CSRF_COOKIE, csrf_of, sign_in
from tests.support.factories import PASSWORD, make_branch, make_user

ADMIN_PAGE = "/admin/operators"
SESSION_COOKIE = "messenger_session"


def plant(client, value: str) -> None:
    """Set the session cookie as a planted one would arrive (replacing any other)."""
    for cookie in list(client.cookies.jar):
        if cookie.name == SESSION_COOKIE:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(SESSION_COOKIE, value, domain="testserver.local")


@pytest.fixture
def app_env(env: dict[str, str], tmp_path) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


async def admin_and_operator(db: AsyncSession):
    branch = await make_branch(db, "Alpha")
    other = await make_branch(db, "Beta")
    admin = await make_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    operator = await make_user(db, [branch], email="anna@example.com", name="Anna")
    await db.commit()
    return admin, operator, branch, other


async def test_a_planted_session_cookie_does_not_open_the_admin_pages_after_sign_in(
    app_env, db_session
):
    """Session fixation: the attacker gets a real (stored) session id from the login page,
    plants it in the admin's browser, and waits for the admin to sign in."""
    await admin_and_operator(db_session)
    async with app_client(app_env) as attacker, app_client(app_env) as victim:
        await attacker.get("/login")
        planted = attacker.cookies.get(SESSION_COOKIE)
        assert planted, "the login page set no session cookie"
        plant(victim, planted)
        assert (await sign_in(victim, "ada@example.com")).status_code == 303
        assert (await victim.get(ADMIN_PAGE, follow_redirects=False)).status_code == 200
        assert victim.cookies.get(SESSION_COOKIE) != planted
        # The attacker's copy of the planted id opens nothing.
        plant(attacker, planted)
        refused = await attacker.get(ADMIN_PAGE, follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/login")


async def test_an_invented_session_id_is_never_adopted(app_env, db_session):
    await admin_and_operator(db_session)
    chosen = "a" * 64
    async with app_client(app_env) as victim, app_client(app_env) as attacker:
        plant(victim, chosen)
        page = await victim.get("/login")
        assert chosen not in page.headers.get("set-cookie", "")
        assert (await sign_in(victim, "ada@example.com")).status_code == 303
        assert victim.cookies.get(SESSION_COOKIE) not in (None, chosen)
        plant(attacker, chosen)
        assert (await attacker.get(ADMIN_PAGE, follow_redirects=False)).status_code == 303


async def test_sign_in_renews_the_csrf_token(app_env, db_session):
    await admin_and_operator(db_session)
    async with app_client(app_env) as browser:
        page = await browser.get("/login")
        before = browser.cookies.get(CSRF_COOKIE)
        old_token = csrf_of(page.text)
        assert (await sign_in(browser, "anna@example.com")).status_code == 303
        after = browser.cookies.get(CSRF_COOKIE)
        assert after
        assert after != before
        # A token seen before sign-in (perhaps planted with the cookie) is now refused.
        stale = await browser.post(
            "/logout",
            data={"_csrf_token": old_token},
            follow_redirects=False,
        )
        assert stale.status_code == 403
        home = await browser.get("/")
        assert home.status_code == 200
        assert csrf_of(home.text) != old_token


async def test_a_password_change_moves_the_session_to_a_new_id(app_env, db_session):
    await admin_and_operator(db_session)
    async with app_client(app_env) as browser, app_client(app_env) as thief:
        assert (await sign_in(browser, "anna@example.com")).status_code == 303
        old_id = browser.cookies.get(SESSION_COOKIE)
        page = await browser.get("/account")
        changed = await browser.post(
            "/account/password",
            data={
                "_csrf_token": csrf_of(page.text),
                "current_password": PASSWORD,
                "new_password": "another passphrase",
                "confirm_password": "another passphrase",
            },
        )
        assert changed.status_code == 200
        assert browser.cookies.get(SESSION_COOKIE) not in (None, old_id)
        assert (await browser.get("/conversations", follow_redirects=False)).status_code == 200
        plant(thief, old_id)
        assert (await thief.get("/", follow_redirects=False)).status_code == 303


@pytest.mark.parametrize("change", ["role", "branches"])
async def test_a_role_or_branch_change_moves_the_session_to_a_new_id(app_env, db_session, change):
    admin, operator, branch, other = await admin_and_operator(db_session)
    async with app_client(app_env) as browser, app_client(app_env) as thief:
        assert (await sign_in(browser, "anna@example.com")).status_code == 303
        old_id = browser.cookies.get(SESSION_COOKIE)
        users = UserService(session=db_session)
        if change == "role":
            await users.update_staff(
                operator.id,
                actor=admin,
                name="Anna",
                role=UserRole.ADMIN,
                active=True,
                branches=[branch],
            )
        else:
            await users.set_branches(operator.id, [other])
        await db_session.commit()
        # Still signed in, with the new access, under a new id; the old id is dead.
        assert (await browser.get("/conversations", follow_redirects=False)).status_code == 200
        assert browser.cookies.get(SESSION_COOKIE) not in (None, old_id)
        plant(thief, old_id)
        assert (await thief.get("/", follow_redirects=False)).status_code == 303


async def test_cookies_are_host_prefixed_and_secure_under_https(app_env):
    async with app_client({**app_env, "MESSENGER_PUBLIC_URL": "https://chat.example"}) as https:
        page = await https.get("/login")
    cookies = page.headers.get_list("set-cookie")
    session = [c for c in cookies if c.startswith("__Host-messenger_session=")]
    csrf = [c for c in cookies if c.startswith("__Host-messenger_csrf=")]
    assert session, cookies
    assert csrf, cookies
    for cookie in session + csrf:
        assert "Secure" in cookie
        assert "Path=/" in cookie
        assert "Domain" not in cookie
    async with app_client(app_env) as http:
        plain = (await http.get("/login")).headers.get_list("set-cookie")
    assert any(c.startswith("messenger_session=") for c in plain)
    assert not any("Secure" in c for c in plain)


# --- sign-in ---------------------------------------------------------------------------------


async def test_wrong_passwords_delay_that_address_but_never_lock_the_account(
    app_env, db_session, redis, redis_prefix
):
    await admin_and_operator(db_session)
    async with app_client(app_env) as guesser:
        for _ in range(5):
            assert (await sign_in(guesser, "anna@example.com", "not it")).status_code == 400
        # The fifth failure starts the delays: the very next try waits, right password or not.
        waiting = await sign_in(guesser, "anna@example.com", PASSWORD)
        assert waiting.status_code == 429
        assert 1 <= int(waiting.headers["retry-after"]) <= 2
        assert "Too many sign-in attempts" in waiting.text
        # Another account from the same address is not refused.
        assert (await sign_in(guesser, "ada@example.com", PASSWORD)).status_code == 303
    keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}:signin:*")]
    assert keys, "the sign-in counters are not in Redis"
    assert not any(b"anna" in key for key in keys), "e-mails are kept only as digests"


async def test_many_attempts_ask_for_a_proof_of_work_instead_of_refusing(app_env, db_session):
    await admin_and_operator(db_session)
    env = {
        **app_env,
        "MESSENGER_SIGNIN_CHALLENGE_AFTER": "2",
        "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": "1000",
    }
    async with app_client(env) as guesser, app_client(env) as owner:
        for _ in range(2):
            assert (await sign_in(guesser, "anna@example.com", "nope")).status_code == 400
        # The owner (elsewhere) is not refused: the page asks for a proof-of-work.
        asked = await sign_in(owner, "anna@example.com", PASSWORD)
        assert asked.status_code == 428
        assert 'src="/static/dashboard/login-pow.js"' in asked.text
        assert PASSWORD not in asked.text  # the password is never echoed into the page
        match = re.search(r'data-challenge="([^"]+)"', asked.text)
        assert match
        challenge = json.loads(html.unescape(match.group(1)))
        solution = solve_challenge_v1(
            challenge["challenge"],
            challenge["salt"],
            challenge["algorithm"],
            challenge["maxnumber"],
            0,
        )
        assert solution is not None
        payload = base64.b64encode(
            json.dumps(
                {
                    "algorithm": challenge["algorithm"],
                    "challenge": challenge["challenge"],
                    "number": solution.number,
                    "salt": challenge["salt"],
                    "signature": challenge["signature"],
                }
            ).encode()
        ).decode()
        form = {
            "_csrf_token": csrf_of(asked.text),
            "email": "anna@example.com",
            "password": PASSWORD,
            "altcha": payload,
        }
        signed = await owner.post("/login", data=form, follow_redirects=False)
        assert signed.status_code == 303
        assert (await owner.get("/conversations", follow_redirects=False)).status_code == 200
        # A solution is single-use: replayed by the guesser, it is asked again.
        page = await guesser.get("/login")
        replay = await guesser.post(
            "/login",
            data={**form, "_csrf_token": csrf_of(page.text), "password": "x"},
            follow_redirects=False,
        )
        assert replay.status_code == 428


async def test_a_wrong_form_is_4xx_never_500(app_env, db_session):
    await admin_and_operator(db_session)
    async with app_client(app_env) as browser:
        page = await browser.get("/login")
        token = csrf_of(page.text)
        for extra in ({"altcha": "x" * 5000}, {"altcha": "bm90IGpzb24="}, {"email": "a" * 400}):
            data = {"_csrf_token": token, "email": "anna@example.com", "password": "p", **extra}
            response = await browser.post("/login", data=data, follow_redirects=False)
            assert 400 <= response.status_code < 500, (extra, response.status_code)


def session_cookie_set(response) -> bool:
    return any(
        value.startswith(f"{SESSION_COOKIE}=") for value in response.headers.get_list("set-cookie")
    )


async def test_an_unchanged_session_is_written_again_only_every_few_minutes(
    app_env, db_session, monkeypatch
):
    """The store write that slides a session's expiry (and its cookie) is skipped while the
    session is unchanged and was renewed less than RENEW_EVERY_SECONDS ago."""
    import time

    from messenger.dashboard import sessions

    await admin_and_operator(db_session)
    async with app_client(app_env) as client:
        assert (await sign_in(client, "anna@example.com")).status_code == 303
        first = await client.get("/conversations")
        assert first.status_code == 200
        assert not session_cookie_set(first)
        later = time.time() + sessions.RENEW_EVERY_SECONDS + 1
        # Only the renewal check's clock moves: no mock of the store or the app.
        monkeypatch.setattr(sessions, "clock", lambda: later)
        renewed = await client.get("/conversations")
        assert renewed.status_code == 200
        assert session_cookie_set(renewed)
        again = await client.get("/conversations")
        assert again.status_code == 200
        assert not session_cookie_set(again)
