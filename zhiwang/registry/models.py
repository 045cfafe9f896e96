"""Registry models (see docs/registry.md)."""
