"""Disputes models (see docs/disputes.md)."""
