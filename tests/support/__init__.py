"""What the test suites share besides fixtures: clients, the local gateway, the SAM template,
the DocumentDB store audit, Hypothesis strategies.

Installed as ``stateway_testing`` (pyproject.toml maps it to ``tests/support``); the fixtures
themselves stay in the ``conftest.py`` files.
"""
