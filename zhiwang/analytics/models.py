"""Analytics models (see docs/analytics.md)."""
