"""What several test files share, imported by name (``from tests.helpers.aws_clients import
sandbox_client``). Fixtures are in ``tests/conftest.py``; these are plain functions and classes."""
