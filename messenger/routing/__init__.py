"""Routing: which branch a new conversation of a global inbox goes to."""
