"""The visitor's data under control (issue 17): erase, export, retention.

- :mod:`~messenger.privacy.erase`: a visitor's own content and contact fields go; the
  conversations' rows (times, status, rating) stay as anonymous statistics;
- :mod:`~messenger.privacy.export`: everything held about a visitor, as JSON and files;
- :mod:`~messenger.privacy.retention`: conversations inactive longer than
  ``MESSENGER_RETENTION_DAYS`` are anonymised (as an erasure) or deleted, in batches.
"""
