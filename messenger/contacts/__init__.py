"""Contacts: visitors the host site identified with a signed identity (INTEGRATIONS.md §1)."""
