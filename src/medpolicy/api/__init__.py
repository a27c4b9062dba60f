"""The prior-authorization service: REST API, case store, reviewer web app."""
