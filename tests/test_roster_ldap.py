"""LDAP rosters against a real OpenLDAP slapd: the addresses of a group, or nothing at all.

The server (`tests/ldap_server.py`) lets anyone read `SIZE_LIMIT` entries per
search and more page by page; one account may read `SIZE_LIMIT` in all, one may
not page. Every refusal must be a `RosterError` naming the server, and never
the password, an address or a value the directory holds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from ldap_server import (
    CAPPED,
    GROUPS,
    NO_PAGING,
    PEOPLE,
    READER,
    SIZE_LIMIT,
    LdapServer,
    member_filter,
    password,
)

from listsync.roster_ldap import read_ldap
from listsync.rosters import LdapCredentials, LdapQuery, RosterError

CREDENTIALS = LdapCredentials(
    bind_dn_variable="TEST_LDAP_BIND_DN", password_variable="TEST_LDAP_PASSWORD"
)


def query(server: LdapServer, group: str, *, url: str | None = None) -> LdapQuery:
    return LdapQuery(url=url or server.url, base=PEOPLE, filter=member_filter(group))


def env(dn: str, secret: str | None = None) -> dict[str, str]:
    return {"TEST_LDAP_BIND_DN": dn, "TEST_LDAP_PASSWORD": secret or password(dn)}


def test_a_group_is_read_bound_with_the_credentials_the_variables_name(
    ldap_server: LdapServer,
) -> None:
    addresses = read_ldap(query(ldap_server, "board"), CREDENTIALS, environ=env(READER))

    assert addresses == [
        "alice@example.org",  # lower-cased
        "bob.builder@example.org",  # every value of a person with two
        "bob@example.org",
        "carol@example.org",
    ]


def test_a_group_is_read_anonymously_without_credentials(ldap_server: LdapServer) -> None:
    assert read_ldap(query(ldap_server, "board"), None, environ={}) == [
        "alice@example.org",
        "bob.builder@example.org",
        "bob@example.org",
        "carol@example.org",
    ]


@pytest.mark.parametrize("page_size", [2, 500])
def test_a_group_larger_than_the_size_limit_is_read_whole_page_by_page(
    ldap_server: LdapServer, page_size: int
) -> None:
    staff = sorted(mail.lower() for _, mails in GROUPS["staff"] for mail in mails)
    assert len(staff) > SIZE_LIMIT
    assert len(staff) > 3 * 2  # several pages of 2

    addresses = read_ldap(
        query(ldap_server, "staff"), CREDENTIALS, environ=env(READER), page_size=page_size
    )

    assert addresses == staff


def test_a_variable_that_is_not_set_is_named_and_nothing_is_read(
    ldap_server: LdapServer,
) -> None:
    with pytest.raises(RosterError) as raised:
        read_ldap(query(ldap_server, "board"), CREDENTIALS, environ={"TEST_LDAP_BIND_DN": READER})

    message = str(raised.value)
    assert "TEST_LDAP_PASSWORD" in message
    assert "TEST_LDAP_BIND_DN" not in message
    assert "nothing is changed" in message


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_an_error_naming_it(
    ldap_server: LdapServer, closed_port: int
) -> None:
    url = f"ldap://127.0.0.1:{closed_port}"

    with pytest.raises(RosterError, match="nothing is changed") as raised:
        read_ldap(query(ldap_server, "board", url=url), None, environ={}, timeout=2)

    assert str(raised.value).startswith(f"{url}:")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"ldap://127.0.0.1:{sock.getsockname()[1]}"


def test_a_server_that_does_not_answer_in_time_is_an_error(
    ldap_server: LdapServer, silent_server: str
) -> None:
    with pytest.raises(RosterError, match="nothing is changed") as raised:
        read_ldap(query(ldap_server, "board", url=silent_server), None, environ={}, timeout=0.5)

    assert str(raised.value).startswith(f"{silent_server}:")


def test_a_wrong_password_is_an_error_that_does_not_show_it(ldap_server: LdapServer) -> None:
    with pytest.raises(RosterError, match="invalidCredentials") as raised:
        read_ldap(query(ldap_server, "board"), CREDENTIALS, environ=env(READER, "hunter2-wrong"))

    message = str(raised.value)
    assert "hunter2-wrong" not in message
    assert "TEST_LDAP_PASSWORD" in message
    assert message.startswith(f"{ldap_server.url}:")


@pytest.mark.parametrize(
    ("account", "outcome"),
    [
        (CAPPED, "sizeLimitExceeded 4"),  # paging does not lift its limit
        (NO_PAGING, "adminLimitExceeded 11"),  # refuses the paged results control
    ],
)
def test_an_answer_cut_short_by_a_limit_is_an_error(
    ldap_server: LdapServer, account: str, outcome: str
) -> None:
    assert len(GROUPS["staff"]) > SIZE_LIMIT

    with pytest.raises(RosterError) as raised:
        read_ldap(query(ldap_server, "staff"), CREDENTIALS, environ=env(account), page_size=2)

    message = str(raised.value)
    assert outcome in message
    assert "the search was cut short" in message
    assert "@" not in message


def test_the_limit_cuts_nothing_short_when_the_group_fits(ldap_server: LdapServer) -> None:
    """The capped account reads a group within its limit: the error above is the limit's."""
    addresses = read_ldap(query(ldap_server, "board"), CREDENTIALS, environ=env(CAPPED))

    assert len(addresses) == 4


def test_an_empty_result_is_an_error(ldap_server: LdapServer) -> None:
    with pytest.raises(RosterError, match="found no entry"):
        read_ldap(query(ldap_server, "nobody"), None, environ={})


def test_an_entry_without_the_attribute_is_an_error(ldap_server: LdapServer) -> None:
    with pytest.raises(RosterError) as raised:
        read_ldap(query(ldap_server, "lapsed"), None, environ={})

    message = str(raised.value)
    assert "1 of the 2 entries found has no mail" in message
    assert "dave" not in message
    assert "erin" not in message


def test_values_that_are_not_bare_addresses_are_an_error_that_does_not_show_them(
    ldap_server: LdapServer,
) -> None:
    with pytest.raises(RosterError) as raised:
        read_ldap(query(ldap_server, "odd"), None, environ={})

    message = str(raised.value)
    assert "2 mail values (in 2 of the 3 entries found) are not a bare e-mail address" in message
    for shown in ("grace", "heidi", "Hopper", "frank"):
        assert shown not in message
