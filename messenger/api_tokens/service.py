"""API tokens: create (the token is shown once), list, revoke, and find the token of a call.

**Hashed at rest with SHA-256, not a password hash.** A token is 32 random bytes from
``secrets`` (256 bits): nobody can guess it or brute-force its hash, so the slow, salted
hashes that protect *passwords* (low-entropy, guessable) would add nothing but cost — and
every API call must find its token. One SHA-256 of the token is its unique, indexed lookup
key; a leaked database holds no usable token.

Nothing here commits: the caller's unit of work does (the request, a CLI command).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from messenger.branches.service import BranchService
from messenger.db import audit
from messenger.db.models import ApiToken
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

#: Every token starts with this: easy to recognise in a leaked file (secret scanners).
TOKEN_PREFIX = "msgr_"  # noqa: S105  (a public marker, not a secret)
#: How many characters of a token are kept in clear to tell tokens apart (prefix included).
SHOWN_CHARACTERS = 12
MAX_NAME_LENGTH = 200
#: The longest token a caller may present (anything longer is not one of ours).
MAX_TOKEN_LENGTH = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: its row and the token itself, which exists only here (shown once)."""

    row: ApiToken
    token: str


class ApiTokenService(RepositoryService[ApiToken]):
    class Repo(Repository[ApiToken]):
        model_type = ApiToken

    repository_type = Repo

    async def issue(self, name: str, branch_ids: list[int]) -> IssuedToken:
        """A new token named ``name``, scoped to ``branch_ids`` (none: every branch)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(N_("An API token needs a name of 1 to 200 characters."))
        branches = await BranchService(session=self.repository.session).require_all(branch_ids)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            name=name,
            token_hash=hash_token(token),
            prefix=token[:SHOWN_CHARACTERS],
            branches=branches,
        )
        row = await self.create(row, auto_commit=False, auto_refresh=False)
        audit.record(
            self.repository.session,
            "api_token.create",
            f"api_token:{row.id}",
            {"name": name, "prefix": row.prefix, "branch_ids": sorted(b.id for b in branches)},
        )
        return IssuedToken(row=row, token=token)

    async def ordered(self) -> list[ApiToken]:
        """Every token, newest first (revoked ones too: the admin sees what existed)."""
        query = select(ApiToken).order_by(ApiToken.id.desc())
        return list(await self.repository.session.scalars(query))

    async def require(self, token_id: int) -> ApiToken:
        row = await self.get_one_or_none(id=token_id)
        if row is None:
            raise NotFoundError(
                N_("There is no API token with id %(id)s."), params={"id": token_id}
            )
        return row

    async def revoke(self, token_id: int) -> ApiToken:
        """Revoke for good (the next call with it is refused); revoking twice changes nothing."""
        row = await self.require(token_id)
        if row.revoked_at is None:
            row.revoked_at = _now()
            await self.repository.session.flush()
            audit.record(
                self.repository.session,
                "api_token.revoke",
                f"api_token:{row.id}",
                {"name": row.name, "prefix": row.prefix},
            )
        return row

    async def authenticate(self, token: str) -> ApiToken | None:
        """The live token ``token`` names, or None (unknown, malformed or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = hash_token(token)
        # One round trip: the token with its branches (the scope every call checks).
        found = await self.repository.session.execute(
            select(ApiToken)
            .where(ApiToken.token_hash == digest)
            .options(joinedload(ApiToken.branches))
        )
        row = found.unique().scalar_one_or_none()
        # The lookup was by the hash; compare again in constant time all the same.
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.is_revoked:
            return None
        return row

    async def mark_used(self, row: ApiToken) -> None:
        """Note the time of use (the caller decides how often: once a minute is enough)."""
        now = _now()
        await self.repository.session.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(row, "last_used_at", now)
