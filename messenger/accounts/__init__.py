"""Accounts: staff users (operators and admins), their passwords and branch membership."""
