"""Messenger: the self-hosted live chat of a CRM."""

__version__ = "0.1.0"
