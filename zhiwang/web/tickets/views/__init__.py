"""Ticket pages, one module per kind of user: citizens, intake, the working lists, one ticket."""
