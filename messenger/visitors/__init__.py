"""Visitors: who writes from the widget, where from (GeoIP) and in which language."""
