"""Geo API: divisions, grids, locate."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["geo"])
