"""Inboxes: sites or channels, their settings, tokens, domain allowlist, availability."""

# Importing the package registers the rule that validates every write of the model's
# JSON document (see settings).
from messenger.inboxes import settings as _rules  # noqa: F401
