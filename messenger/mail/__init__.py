"""E-mail to visitors (INTEGRATIONS.md §5): replies they missed, transcripts."""
