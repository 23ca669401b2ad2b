"""Operator sign-in: sessions, CSRF, redirects, deactivation."""

import re

import pytest

from messenger.accounts.service import UserService
from messenger.config import Settings
from tests.support.app import app_client
from tests.support.factories import PASSWORD, make_branch, make_user


@pytest.fixture
async def client(env):
    async with app_client(Settings.from_env(env)) as test_client:
        test_client.headers["Accept-Language"] = "en"
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


async def sign_in(client, email, password, next_="/"):
    page = await client.get("/login")
    token = csrf_of(page.text)
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, "next": next_},
        follow_redirects=False,
    )


async def test_pages_need_a_session(client):
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"


async def test_sign_in_and_out(client, db_session):
    branch = await make_branch(db_session)
    await make_user(db_session, [branch], email="olga@example.com", name="Olga <Admin>")
    response = await sign_in(client, "OLGA@example.com", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Olga &lt;Admin&gt;" in home.text  # escaped, never raw
    assert "Olga <Admin>" not in home.text
    token = csrf_of(home.text)
    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    again = await client.get("/", follow_redirects=False)
    assert again.status_code == 303


async def test_wrong_password_and_unknown_email_look_the_same(client, db_session):
    branch = await make_branch(db_session)
    await make_user(db_session, [branch], email="olga@example.com")
    wrong = await sign_in(client, "olga@example.com", "not the password")
    unknown = await sign_in(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong e-mail or password." in wrong.text
    assert "Wrong e-mail or password." in unknown.text


async def test_state_changes_need_the_csrf_token(client, db_session):
    branch = await make_branch(db_session)
    await make_user(db_session, [branch], email="olga@example.com")
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "olga@example.com", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


async def test_next_never_leaves_the_site(client, db_session):
    branch = await make_branch(db_session)
    await make_user(db_session, [branch], email="olga@example.com")
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        client.cookies.clear()
        response = await sign_in(client, "olga@example.com", PASSWORD, next_=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/"


async def test_deactivated_operator_is_out_at_once(client, db_session):
    branch = await make_branch(db_session)
    user = await make_user(db_session, [branch], email="olga@example.com")
    assert (await sign_in(client, "olga@example.com", PASSWORD)).status_code == 303
    assert (await client.get("/")).status_code == 200
    await UserService(session=db_session).set_active(user.id, active=False)
    await db_session.commit()
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert (await sign_in(client, "olga@example.com", PASSWORD)).status_code == 400


async def test_sessions_live_in_redis(client, db_session, redis, redis_prefix):
    branch = await make_branch(db_session)
    await make_user(db_session, [branch], email="olga@example.com")
    assert (await sign_in(client, "olga@example.com", PASSWORD)).status_code == 303
    keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}:sessions*")]
    assert keys, "the operator session was not stored in Redis"
