"""The staff side: sign-in and the unified messenger (server-rendered Jinja + HTMX)."""
