"""The privacy notice shown in the widget: inbox override, field by field, over the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from messenger.config import Settings
from messenger.inboxes.settings import InboxSettings


@dataclass(frozen=True, slots=True)
class Privacy:
    text: str
    url: str


def resolve_privacy(inbox_settings: InboxSettings, settings: Settings) -> Privacy:
    override = inbox_settings.privacy
    return Privacy(
        text=override.text if override.text else settings.privacy_text,
        url=override.url if override.url else settings.privacy_url,
    )
