"""LDAP roster sources (placeholder until the reader lands)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from listsync.rosters import LdapCredentials, LdapQuery, RosterError


def read_ldap(
    query: LdapQuery,
    credentials: LdapCredentials | None,
    *,
    environ: Mapping[str, str] = os.environ,
    timeout: float = 10.0,
) -> list[str]:
    raise RosterError(f"{query.url}: LDAP sources are not read yet")
