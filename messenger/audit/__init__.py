"""The audit log as admins read it: filters, pages, retention (recording: messenger.db.audit)."""
