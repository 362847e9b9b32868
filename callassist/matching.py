"""Fuzzy phrase matching for recognised Chinese text (to be implemented)."""
