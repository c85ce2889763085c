"""The test suite, a package: test modules are named by their folder (``tests.sandbox.test_roles``
is not ``tests.test_roles``), and the shared helpers import as ``tests.helpers.…``."""
