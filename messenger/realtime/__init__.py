"""Live fan-out: events published after commit, delivered to streams in any process."""
