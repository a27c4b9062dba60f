"""Adapters at the edges: native JSON, FHIR R4. Each produces a ``medpolicy.request.Request``."""
