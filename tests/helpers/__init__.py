"""Helpers and fixtures shared by several test modules (fixtures are registered as plugins in
tests/conftest.py), so that no test module imports another."""
