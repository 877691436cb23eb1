"""listsync: GNU Mailman 3 mailing lists as code."""
