"""Test addon for tests/test_migrations.py."""
