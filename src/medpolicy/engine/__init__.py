"""The engine: evaluate a request against a validated policy and assemble the decision."""
