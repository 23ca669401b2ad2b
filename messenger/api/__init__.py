"""The integration REST API (``/api/v1/``): what a CRM or a script reads and does with an
API token, through the same services as the dashboard."""
