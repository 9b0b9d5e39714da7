"""Pytest plugins of the test suite itself (not fixtures of the systems under test)."""
