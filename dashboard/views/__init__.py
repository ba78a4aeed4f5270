"""Request handlers, grouped by page or API."""
