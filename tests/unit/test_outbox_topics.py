"""Which webhook event each recorded domain event becomes (INTEGRATIONS.md §3): the outbox
reads the same domain events as the live screens, so every path that changes a
conversation — dashboard, widget, REST API, auto-assignment, transfer — fires webhooks."""

from __future__ import annotations

from uuid import uuid4

from messenger.db.events import DomainEvent
from messenger.db.outbox import outbox_entries


def topics(*events: DomainEvent) -> list[tuple[str, dict[str, object]]]:
    return [(row.topic, dict(row.payload)) for row in outbox_entries(list(events), [])]


CONVERSATION, VISITOR = uuid4(), uuid4()


def status_event(**data: object) -> DomainEvent:
    return DomainEvent("status", CONVERSATION, VISITOR, 1, data=data, to_visitor=False)


def test_auto_assignment_and_unassignment_fire_conversation_assigned() -> None:
    assert topics(status_event(assignee=7)) == [
        ("conversation.assigned", {"conversation_id": str(CONVERSATION), "assignee_id": 7})
    ]
    assert topics(status_event(assignee=None)) == [
        ("conversation.assigned", {"conversation_id": str(CONVERSATION), "assignee_id": None})
    ]


def test_a_transfer_fires_once_not_once_per_branch_told() -> None:
    to_new = status_event(transferred=True, assignee=None)
    to_old = status_event(transferred=True, assignee=None, moved_to=2)
    assert [topic for topic, _ in topics(to_new, to_old)] == ["conversation.assigned"]


def test_a_rating_fires_csat_submitted_with_its_rating_and_comment() -> None:
    rated = DomainEvent(
        "csat.submitted",
        CONVERSATION,
        VISITOR,
        1,
        data={"id": 3, "rating": 4, "comment": "quick", "resolution_message_id": 9},
        to_visitor=False,
    )
    assert topics(rated) == [
        (
            "csat.submitted",
            {"conversation_id": str(CONVERSATION), "rating": 4, "comment": "quick"},
        )
    ]


def test_label_and_snooze_changes_are_not_webhook_events() -> None:
    assert topics(status_event(labels=[1, 2]), status_event(snoozed_until=None)) == []
