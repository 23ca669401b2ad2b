"""The demo site that embeds the widget like a customer's page."""
