"""Ticket pages for every role (issue 3, item 11): thin views over tickets services and selectors."""
