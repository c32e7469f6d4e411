"""Principals: agency systems (clients) and their keys, users, roles, tokens."""
