from __future__ import annotations

from advanced_alchemy.base import BigIntAuditBase
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


class Branch(BigIntAuditBase):
    """A unit of the CRM's company (филиал); operators belong to one or more branches.

    Branches have small integer ids so that ``MESSENGER_DEFAULT_BRANCH_ID`` and the CLI can
    name them plainly.
    """

    __tablename__ = "branches"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
