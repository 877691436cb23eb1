"""listsync: GNU Mailman 3 mailing lists as code."""

DISTRIBUTION = "listsync-mailman"  # the name pip knows listsync by (pyproject.toml)
