"""Process-level endpoints: liveness and readiness."""
