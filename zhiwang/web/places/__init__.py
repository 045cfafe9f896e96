"""The one-screen view of a place (building, room): registry, tickets, disputes at one address."""
