"""Every message a service refuses with is a catalog message, shown in the reader's language.

Two checks. The source check reads ``messenger/`` and refuses a domain error raised with an
f-string, a plain literal, a ``%``/``.format`` text or an already translated ``_()`` text:
only ``N_("…")`` with ``params=`` keeps the msgid for the catalogs. The runtime check walks
the refusals the services, the settings and conditions parsers and the admin forms can give,
renders each in Russian and asserts that every sentence (a reason inside a sentence too) is
translated in the ru catalog.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from messenger.accounts.service import (
    check_membership,
    check_password_policy,
    check_user_name,
    normalize_email,
    parse_role,
)
from messenger.dashboard.forms import InboxForm
from messenger.db.models import UserRole
from messenger.errors import DomainError, Message
from messenger.i18n import use_locale
from messenger.inboxes.settings import normalize_settings
from messenger.routing.conditions import parse_conditions
from tests.support.env import ROOT

PACKAGE = ROOT / "messenger"


CYRILLIC = re.compile(r"[\u0400-\u04ff]")


#: Raises known to be untranslated, owned elsewhere: (file, enclosing function). Remove an
#: entry when its message becomes N_(...) with params — the test then keeps it so.
KNOWN_UNTRANSLATED: set[tuple[str, str]] = set()


# --- the source check ---------------------------------------------------------------------


#: The module that defines the machinery (its reasons are N_ in a table; the runtime
#: check below renders them).
MACHINERY = "messenger/errors.py"


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        filename = str(path.relative_to(ROOT))
        if filename != MACHINERY:
            yield filename, ast.parse(path.read_text(encoding="utf-8"))


def _error_classes(trees: list[tuple[str, ast.Module]]) -> tuple[set[str], set[str]]:
    """Names of DomainError and its subclasses (to a fixed point), and those of them that
    define their own ``__init__`` (they build the message themselves)."""
    names = {"DomainError", "InvalidInputError", "NotFoundError", "ConflictError", "ForbiddenError"}
    own_init: set[str] = set()
    classes = [
        node for _, tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
    ]
    changed = True
    while changed:
        changed = False
        for node in classes:
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if node.name not in names and bases & names:
                names.add(node.name)
                changed = True
    for node in classes:
        if node.name in names and any(
            isinstance(item, ast.FunctionDef) and item.name == "__init__" for item in node.body
        ):
            own_init.add(node.name)
    return names, own_init


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_marked(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Call)
        and _called_name(node) == "N_"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node


def _offences() -> list[str]:
    trees = list(_trees())
    errors, own_init = _error_classes(trees)
    # Message(...) and DomainPatternError(...) carry catalog messages too.
    checked = (errors - own_init) | {"Message", "DomainPatternError"}
    found: list[str] = []
    for filename, tree in trees:
        for function, node in _functions(tree):
            parameters = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
            for call in ast.walk(node):
                if not isinstance(call, ast.Call) or _called_name(call) not in checked:
                    continue
                first = call.args[0] if call.args else None
                if first is None or _is_marked(first):
                    continue
                # Handing on a message that a caller marked (a parameter) is fine.
                if isinstance(first, ast.Name) and first.id in parameters:
                    continue
                if (filename, function) in KNOWN_UNTRANSLATED:
                    continue
                found.append(
                    f"{filename}:{call.lineno} {_called_name(call)}({ast.unparse(first)[:60]})"
                )
        # A domain error that builds its own message: its super().__init__ gets N_(...).
        for cls in ast.walk(tree):
            if not (isinstance(cls, ast.ClassDef) and cls.name in own_init):
                continue
            for init in cls.body:
                if not (isinstance(init, ast.FunctionDef) and init.name == "__init__"):
                    continue
                for call in ast.walk(init):
                    if isinstance(call, ast.Call) and _called_name(call) == "__init__":
                        first = call.args[0] if call.args else None
                        if not _is_marked(first):
                            found.append(f"{filename}:{call.lineno} {cls.name}.__init__")
    return sorted(set(found))


def test_domain_errors_are_raised_with_catalog_messages():
    assert _offences() == [], (
        "a domain error's message must be N_('…') with params=…, never an f-string, a "
        "formatted or a translated text"
    )


def test_the_source_check_sees_an_f_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The check itself: an f-string, a plain literal and _() are caught."""
    package = tmp_path / "messenger"
    package.mkdir()
    (package / "bad.py").write_text(
        "from messenger.errors import InvalidInputError\n"
        "from messenger.i18n import N_, gettext as _\n"
        "class Nope(InvalidInputError):\n    pass\n"
        "def one(name):\n    raise InvalidInputError(f'{name} is wrong')\n"
        "def two():\n    raise Nope('plain')\n"
        "def three():\n    raise InvalidInputError(_('Translated too early.'))\n"
        "def four(detail):\n    raise InvalidInputError(detail)\n"
        "def five():\n    raise InvalidInputError(N_('Fine.'))\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGE", package)
    assert [line.split(" ", 1)[0] for line in _offences()] == [
        "messenger/bad.py:10",
        "messenger/bad.py:6",
        "messenger/bad.py:8",
    ]


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


def refusal(call: Callable[[], Any]) -> DomainError:
    with pytest.raises(DomainError) as info:
        call()
    return info.value


BAD_SETTINGS: list[Any] = [
    {"unknown": 1},
    {"security": {"allowed_domains": ["https://shop.example"]}},
    {"security": {"allowed_domains": [""]}},
    {"security": {"allowed_domains": ["shop.example:http"]}},
    {"security": {"allowed_domains": ["shop.example:70000"]}},
    {"security": {"allowed_domains": ["*.com"]}},
    {"security": {"allowed_domains": ["shop.*.example"]}},
    {"security": {"allowed_domains": ["127.1"]}},
    {"security": {"allowed_domains": ["bad_host!.example"]}},
    {"security": {"allowed_domains": "shop.example"}},
    {"security": {"allowed_domains": ["x" * 300]}},
    {"privacy": {"url": "javascript:alert(1)"}},
    {"privacy": {"text": "x" * 2001}},
    {"working_hours": {"timezone": "Mars/Olympus"}},
    {"working_hours": {"week": {"mon": [{"start": "9", "end": "18:00"}]}}},
    {"working_hours": {"week": {"mon": [{"start": "24:00", "end": "24:00"}]}}},
    {"working_hours": {"week": {"mon": [{"start": "18:00", "end": "09:00"}]}}},
    {"working_hours": {"week": {"someday": []}}},
    {"working_hours": {"week": {"mon": [{"start": "09:00"}]}}},
    {"attachments": {"content_types": ["not a type"]}},
    {"attachments": {"content_types": ["text/html"]}},
    {"attachments": {"max_bytes": 0}},
    {"attachments": {"max_bytes": 10**12}},
    {"attachments": {"enabled": "maybe"}},
    {"locale": "de"},
    {"appearance": {"color": "red"}},
    {"appearance": {"title": "x" * 101}},
    [1],
    "{not json",
]


@pytest.mark.parametrize("document", BAD_SETTINGS, ids=lambda d: str(d)[:50])
def test_inbox_settings_refusals_are_translated(document: Any, ru_catalog: Any):
    assert_in_russian(refusal(lambda: normalize_settings(document)), ru_catalog)


@pytest.mark.parametrize(
    "conditions",
    [
        {"countries": ["Russia"]},
        {"countries": [""]},
        {"cities": "Moscow"},
        {"weather": ["rain"]},
        {"page_urls": ["x" * 501]},
    ],
    ids=str,
)
def test_routing_condition_refusals_are_translated(conditions: Any, ru_catalog: Any):
    assert_in_russian(refusal(lambda: parse_conditions(conditions)), ru_catalog)


@pytest.mark.parametrize(
    "call",
    [
        lambda: normalize_email("not an e-mail"),
        lambda: check_password_policy("short"),
        lambda: check_password_policy("x" * 5000),
        lambda: check_user_name("  "),
        lambda: parse_role("superuser"),
        lambda: check_membership(UserRole.OPERATOR, []),
        lambda: InboxForm(hours_mon="nine to five").settings(),
        lambda: InboxForm(attachments_max_kb="lots").settings(),
    ],
    ids=["email", "short password", "long password", "name", "role", "membership",
         "hours form", "size form"],
)  # fmt: skip
def test_account_and_form_refusals_are_translated(call: Callable[[], Any], ru_catalog: Any):
    assert_in_russian(refusal(call), ru_catalog)
