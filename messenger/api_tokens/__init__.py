"""API tokens: the integrators' keys to the REST API (``/api/v1/``)."""
