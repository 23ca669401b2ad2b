"""The job worker (``messenger worker``): the outbox → webhooks and e-mail, periodic jobs."""
