"""Saved replies: prepared answers in three scopes (global, branch, personal)."""
