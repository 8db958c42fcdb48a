"""Read-only data access for the app: every query the pages need, cached, against the published warehouse."""
