"""A small desk whose report figures are known in advance (tests of messenger/reports).

Period: Monday 2 … Sunday 8 November 2026. ``NOW`` is 22:05 UTC on the Sunday.

=====  =======  ================  ===========  ============  ============  ==========  ======
conv   branch   started (UTC)     first reply  by            resolved      CSAT         assig.
=====  =======  ================  ===========  ============  ============  ==========  ======
c1     Alpha    Mon 02 10:00      +120 s       Olga          +1800 s       5           Olga
c2     Alpha    Tue 03 12:00      +1200 s *    Olga          +7200 s       3           Olga
c3     Alpha    Wed 04 09:00      none *       —             —             —           —
c4     Alpha    Thu 05 23:30 †    +600 s ‡     Ada (admin)   +3600 s       4           Olga
c5     Alpha    Sun 08 22:00 †    none (5 min old: waiting, not missed)                —
c6     Beta     Tue 03 08:00      +60 s        Boris         +600 s        1           Boris
c7     Alpha    Tue 20 Oct        +60 s        Olga          (outside the period)
=====  =======  ================  ===========  ============  ============  ==========  ======

``*`` missed (threshold 15 minutes). ``†`` a Europe/Moscow (UTC+3) reader sees c4 on Friday 6
at 02:30, and c5 on Monday 9 — outside the period. ``‡`` Olga's internal note at +60 s comes
first and is not a reply. c3 carries the label "VIP". Boris's name starts with ``=`` (CSV
formula injection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import (
    Branch,
    Conversation,
    CsatRating,
    Inbox,
    Label,
    Message,
    MessageKind,
    MessageSender,
    User,
    UserRole,
    Visitor,
)
from messenger.db.models.label import conversation_labels
from tests.support.dashboard import quick_user
from tests.support.factories import make_branch, make_inbox

NOW = datetime(2026, 11, 8, 22, 5, tzinfo=UTC)
MISSED_AFTER_MINUTES = 15
BORIS_NAME = '=HYPERLINK("http://evil.example")'


@dataclass
class ReportDesk:
    alpha: Branch
    beta: Branch
    shop: Inbox
    beta_inbox: Inbox
    admin: User
    olga: User
    boris: User
    vip: Label
    conversations: dict[str, Conversation]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def _conversation(
    db: AsyncSession,
    inbox: Inbox,
    branch: Branch,
    started: datetime,
    *,
    assignee: User | None = None,
    note: tuple[User, int] | None = None,
    reply: tuple[User, int] | None = None,
    resolved: tuple[User, int, int | None] | None = None,
) -> Conversation:
    visitor = Visitor(inbox_id=inbox.id)
    db.add(visitor)
    await db.flush()
    conversation = Conversation(
        inbox_id=inbox.id,
        branch_id=branch.id,
        visitor_id=visitor.id,
        assignee_id=assignee.id if assignee else None,
        last_activity_at=started,
        created_at=started,
        updated_at=started,
    )
    db.add(conversation)
    await db.flush()

    def message(sender: MessageSender, kind: MessageKind, when: datetime, **kw: object) -> Message:
        row = Message(
            conversation_id=conversation.id,
            sender=sender,
            kind=kind,
            created_at=when,
            updated_at=when,
            **kw,
        )
        db.add(row)
        return row

    message(MessageSender.VISITOR, MessageKind.MESSAGE, started, body="Hello")
    await db.flush()
    if note:
        who, after = note
        when = started + timedelta(seconds=after)
        message(MessageSender.OPERATOR, MessageKind.NOTE, when, author_id=who.id, body="note")
        await db.flush()
    if reply:
        who, after = reply
        when = started + timedelta(seconds=after)
        message(MessageSender.OPERATOR, MessageKind.MESSAGE, when, author_id=who.id, body="Hi")
        await db.flush()
    if resolved:
        who, after, rating = resolved
        when = started + timedelta(seconds=after)
        event = message(
            MessageSender.SYSTEM,
            MessageKind.EVENT,
            when,
            author_id=who.id,
            body="status:resolved",
        )
        await db.flush()
        if rating is not None:
            db.add(
                CsatRating(
                    conversation_id=conversation.id,
                    resolution_message_id=event.id,
                    rating=rating,
                )
            )
            await db.flush()
    return conversation


async def build_report_desk(db: AsyncSession) -> ReportDesk:
    alpha = await make_branch(db, "Alpha")
    beta = await make_branch(db, "Beta")
    shop = await make_inbox(db, name="Shop", branch=alpha, domains=["shop.example"])
    beta_inbox = await make_inbox(db, name="Beta shop", branch=beta, domains=["beta.example"])
    admin = await quick_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    olga = await quick_user(db, [alpha], email="olga@example.com", name="Olga")
    boris = await quick_user(db, [beta], email="boris@example.com", name=BORIS_NAME)
    vip = Label(name_ru="ВИП", name_en="VIP", color="#aa0000")
    db.add(vip)
    await db.flush()
    c = {
        "c1": await _conversation(
            db, shop, alpha, at(2, 10), assignee=olga, reply=(olga, 120), resolved=(olga, 1800, 5)
        ),
        "c2": await _conversation(
            db, shop, alpha, at(3, 12), assignee=olga, reply=(olga, 1200), resolved=(olga, 7200, 3)
        ),
        "c3": await _conversation(db, shop, alpha, at(4, 9)),
        "c4": await _conversation(
            db,
            shop,
            alpha,
            at(5, 23, 30),
            assignee=olga,
            note=(olga, 60),
            reply=(admin, 600),
            resolved=(admin, 3600, 4),
        ),
        "c5": await _conversation(db, shop, alpha, at(8, 22)),
        "c6": await _conversation(
            db,
            beta_inbox,
            beta,
            at(3, 8),
            assignee=boris,
            reply=(boris, 60),
            resolved=(boris, 600, 1),
        ),
        "c7": await _conversation(
            db, shop, alpha, at(20, 10, month=10), assignee=olga, reply=(olga, 60)
        ),
    }
    await db.execute(
        conversation_labels.insert().values(conversation_id=c["c3"].id, label_id=vip.id)
    )
    await db.commit()
    return ReportDesk(alpha, beta, shop, beta_inbox, admin, olga, boris, vip, c)
