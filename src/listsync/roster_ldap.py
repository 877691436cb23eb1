"""LDAP rosters: the addresses an `LdapQuery` finds, read whole or not at all.

Owns talking to the directory for `members_from: {ldap: …}`: the bind (with
the DN and password from the environment variables `LdapCredentials` names,
or anonymous), the subtree search following the Simple Paged Results control
(RFC 2696) to its last page, and the check that the answer is whole. Any
sign that it is not (the server unreachable or too slow, a refused bind, a
size, time or administrative limit hit, a referral, any result other than
success, an entry without the attribute, a value that is not one bare
address, no entry at all) is a `RosterError`, so that the list's roster is
left exactly as it is. Messages name the server's URL, never a password, an
address or an entry's DN: what a directory holds is personal data.

An entry with several values of the attribute gives each of them. A bind password
is sent only over ldaps:// or to this host (loopback), never in clear over a network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError

from listsync.addresses import bare_address
from listsync.rosters import LdapCredentials, LdapQuery, RosterError

PAGE_SIZE = 500
PAGED_RESULTS = "1.2.840.113556.1.4.319"
UNCHANGED = "nothing is changed"
LIMITS = frozenset({3, 4, 11})  # timeLimitExceeded, sizeLimitExceeded, adminLimitExceeded


def read_ldap(
    query: LdapQuery,
    credentials: LdapCredentials | None,
    *,
    environ: Mapping[str, str] = os.environ,
    timeout: float = 10.0,
    page_size: int = PAGE_SIZE,
) -> list[str]:
    """The lower-cased addresses `query` finds, de-duplicated and sorted.

    Binds with the credentials the environment variables named in `credentials`
    hold (anonymously without them) and waits at most `timeout` seconds for the
    server to connect or answer. `RosterError` when the answer is not whole.
    """
    user, password = _bind_credentials(query, credentials, environ)
    where = query.url
    if password is not None and not _private_channel(query.url):
        raise RosterError(
            f"{where}: a bind password is never sent in clear to another host: use ldaps://;"
            f" {UNCHANGED}"
        )
    try:
        server = Server(
            query.url,
            connect_timeout=timeout,
            get_info=NONE,
            tls=Tls(validate=ssl.CERT_REQUIRED),
        )
        connection = Connection(
            server,
            user=user,
            password=password,
            raise_exceptions=False,
            receive_timeout=math.ceil(timeout),  # whole seconds: ldap3 packs it as an int
            auto_referrals=False,
            read_only=True,
        )
    except LDAPException as exc:
        raise RosterError(f"{where}: cannot be used ({type(exc).__name__}); {UNCHANGED}") from None
    try:
        if not connection.bind():
            raise RosterError(
                f"{where}: the bind {_as(credentials)} was refused"
                f" ({_outcome(connection.result)}); {UNCHANGED}"
            )
        entries = _search_all_pages(connection, query, timeout, page_size)
    except LDAPInvalidFilterError:
        raise RosterError(
            f"{where}: the filter {query.filter!r} is not an LDAP filter; {UNCHANGED}"
        ) from None
    except LDAPException as exc:
        # Connection and socket errors, timeouts: their text names the host, never a password.
        raise RosterError(f"{where}: cannot be read ({exc}); {UNCHANGED}") from None
    finally:
        with contextlib.suppress(LDAPException):
            connection.unbind()
    return _addresses(where, query.attribute, entries)


def _private_channel(url: str) -> bool:
    """Whether a password sent to `url` stays private: TLS (ldaps://), or this host."""
    parts = urlsplit(url)
    if parts.scheme == "ldaps":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind_credentials(
    query: LdapQuery, credentials: LdapCredentials | None, environ: Mapping[str, str]
) -> tuple[str | None, str | None]:
    if credentials is None:
        return None, None
    missing = [
        name
        for name in (credentials.bind_dn_variable, credentials.password_variable)
        if not environ.get(name)
    ]
    if missing:
        raise RosterError(
            f"{query.url}: the environment variable {' and '.join(missing)} that listsync.yaml"
            f" names for the LDAP bind {'is' if len(missing) == 1 else 'are'} not set;"
            f" {UNCHANGED}"
        )
    return environ[credentials.bind_dn_variable], environ[credentials.password_variable]


def _as(credentials: LdapCredentials | None) -> str:
    if credentials is None:
        return "(anonymous)"
    variables = f"${credentials.bind_dn_variable} and ${credentials.password_variable}"
    return f"with the DN and password in {variables}"


def _outcome(result: Mapping[str, Any] | None) -> str:
    if not result:
        return "no answer"
    return f"{result.get('description') or 'result'} {result.get('result')}"


def _search_all_pages(
    connection: Connection, query: LdapQuery, timeout: float, page_size: int
) -> list[dict[str, Any]]:
    """Every entry of the search, page after page; `RosterError` if the answer is cut short."""
    entries: list[dict[str, Any]] = []
    cookie: bytes | None = None
    while True:
        connection.search(
            query.base,
            query.filter,
            search_scope=SUBTREE,
            attributes=[query.attribute],
            time_limit=max(1, round(timeout)),
            paged_size=page_size,
            paged_cookie=cookie,
        )
        result = connection.result
        if not result or result.get("result") != 0:
            what = "was cut short" if result and result.get("result") in LIMITS else "failed"
            raise RosterError(
                f"{query.url}: the search {what} ({_outcome(result)}): the roster is taken whole"
                f" or not at all; {UNCHANGED}"
            )
        for item in connection.response or []:
            if item.get("type") == "searchResEntry":
                entries.append(item)
            elif item.get("type") == "searchResRef":
                raise RosterError(
                    f"{query.url}: the server refers part of the search to another server;"
                    f" the roster is taken whole or not at all; {UNCHANGED}"
                )
        control = (result.get("controls") or {}).get(PAGED_RESULTS)
        cookie = control["value"]["cookie"] if control else None
        if not cookie:
            return entries


def _addresses(where: str, attribute: str, entries: list[dict[str, Any]]) -> list[str]:
    if not entries:
        raise RosterError(
            f"{where}: the search found no entry: an empty source changes nothing; {UNCHANGED}"
        )
    addresses: set[str] = set()
    without = 0
    bad_values = 0
    bad_entries = 0
    for entry in entries:
        values = [
            value
            for name, found in (entry.get("raw_attributes") or {}).items()
            if name.split(";", 1)[0].lower() == attribute.lower()
            for value in found
        ]
        if not values:
            without += 1
            continue
        bad_here = 0
        for raw in values:
            try:
                addresses.add(bare_address(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValueError):
                bad_here += 1
        bad_values += bad_here
        bad_entries += bool(bad_here)
    problems = []
    if without:
        has = "has" if without == 1 else "have"
        problems.append(f"{without} of the {len(entries)} entries found {has} no {attribute}")
    if bad_values:
        problems.append(
            f"{bad_values} {attribute} value{'s' if bad_values > 1 else ''}"
            f" (in {bad_entries} of the {len(entries)} entries found)"
            f" {'are' if bad_values > 1 else 'is'} not a bare e-mail address"
        )
    if problems:
        raise RosterError(
            f"{where}: {'; '.join(problems)}: the roster is taken whole or not at all; {UNCHANGED}"
        )
    return sorted(addresses)
