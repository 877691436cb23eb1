"""The fast tier: pure tests, no Mailman core, no PostgreSQL, no network.

`scripts/test --fast` runs these alone (with ruff and mypy); `scripts/test`
runs them with everything else. tests/conftest.py refuses a test here that
asks for a fixture starting a server, and fails one that opens a connection.
Fakes serve them (`memory_backend`, `list_states`, `header_chain`); what
claims apply works against Mailman stays in tests/.
"""
