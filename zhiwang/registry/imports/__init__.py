"""Department file imports: read (CSV/Excel) → clean → upsert by natural key, chunk by chunk."""
