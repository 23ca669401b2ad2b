"""Conversations and their messages: status, priority, assignment, notes, timelines."""
