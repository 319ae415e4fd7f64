"""Plain helpers shared by the test folders; the fixtures that use them live in tests/conftest.py."""
