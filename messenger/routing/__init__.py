"""Routing: which branch a new conversation of a global inbox goes to."""

# Importing the package registers the rule that validates every write of the model's
# JSON document (see conditions).
from messenger.routing import conditions as _rules  # noqa: F401
