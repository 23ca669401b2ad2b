"""Attachments: files visitors send, where their bytes live, and how they are served inert."""
