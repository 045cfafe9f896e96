"""Zhiwang (织网): an open municipal social-governance platform."""

__version__ = "0.1.0"
