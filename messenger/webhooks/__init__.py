"""Webhooks (INTEGRATIONS.md §3): endpoints, signing, the SSRF guard, deliveries."""
