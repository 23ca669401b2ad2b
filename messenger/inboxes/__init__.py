"""Inboxes: sites or channels, their settings, tokens, domain allowlist, availability."""
