"""Use cases: each reads records, applies a rule from core.rules, and commits the result."""
