"""What `person show` and `person remove` read of a whole server, beyond the lists.

Owns the reads that find one person everywhere (Mailman 3.3.8 to 3.3.10): every
membership of an address in one search per delivery status, the other
addresses of its user, every list of the server with its settings, the
site-wide and per-list bans, and archive policies. Each takes the
`MailmanBackend` to read through; the writes stay on the backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from listsync.mailman import (
    DELIVERY_STATUSES,
    PAGE_SIZE,
    PERSON_FIELDS,
    MailmanBackend,
    list_path,
)


def find_memberships(backend: MailmanBackend, address: str) -> list[dict[str, Any]]:
    """Every place of `address` on the server, in every role and every domain, as plain
    data: `list_id`, `email`, `role`, `moderation_action` (None: the list's default),
    `delivery_mode` and, for members, `delivery_status`.

    One `members/find` for every role; for members, one more asking which are enabled
    and, only when some are not, one per reason delivery can be disabled (by_user,
    by_bounces, by_moderator, unknown): Mailman's member resource has no status field.
    At most 6 requests, whatever the number of lists. Mailman reads a `*` in the
    subscriber as a wildcard: only entries of exactly `address` are kept.
    """
    wanted = address.lower()
    subscriber = f"subscriber={quote(wanted, safe='@')}"
    body = backend.call(f"members/find?{subscriber}&{PERSON_FIELDS}")
    found = [
        {
            "list_id": str(entry["list_id"]),
            "email": str(entry["email"]).lower(),
            "role": str(entry["role"]),
            "moderation_action": entry.get("moderation_action"),
            "delivery_mode": entry.get("delivery_mode"),
            "delivery_status": None,
        }
        for entry in body.get("entries", [])
        if str(entry.get("email", "")).lower() == wanted
    ]
    members = [entry for entry in found if entry["role"] == "member"]
    if not members:
        return found
    unknown = {entry["list_id"] for entry in members}
    for status in DELIVERY_STATUSES:
        query = f"{subscriber}&role=member&delivery_status={status}&fields=list_id&fields=email"
        body = backend.call(f"members/find?{query}")
        ids = {
            str(entry["list_id"])
            for entry in body.get("entries", [])
            if str(entry.get("email", "")).lower() == wanted
        }
        for entry in members:
            if entry["list_id"] in ids:
                entry["delivery_status"] = status
        unknown -= ids
        if not unknown:
            break
    return found


def user_addresses(backend: MailmanBackend, address: str) -> list[str] | None:
    """Every address of the Mailman user `address` belongs to (itself included), or None
    when it belongs to no user or Mailman does not know it (at most 2 requests)."""
    body = backend._get_or_none(f"addresses/{quote(address.lower(), safe='@')}")
    link = body.get("user") if isinstance(body, dict) else None
    if not link:
        return None
    user_id = str(link).rstrip("/").rsplit("/", 1)[-1]
    addresses = backend._get_or_none(f"users/{quote(user_id, safe='')}/addresses")
    if addresses is None:
        return None
    return sorted({str(entry["email"]).lower() for entry in addresses.get("entries", [])})


def all_lists(backend: MailmanBackend) -> list[dict[str, Any]]:
    """Every list of the server, every domain: `fqdn_listname`, `list_id`, `advertised`
    (one request per 1,000 lists)."""
    lists: list[dict[str, Any]] = []
    page = 1
    while True:
        body = backend.call(f"lists?count={PAGE_SIZE}&page={page}")
        entries = body.get("entries", []) if isinstance(body, dict) else []
        lists += [
            {
                "fqdn_listname": str(e["fqdn_listname"]),
                "list_id": str(e["list_id"]),
                "advertised": e.get("advertised") is True,
            }
            for e in entries
        ]
        if len(lists) >= int(body.get("total_size", 0)) or not entries:
            return lists
        page += 1


def site_bans(backend: MailmanBackend) -> list[str]:
    """The server's site-wide bans (one request)."""
    body = backend.call("bans")
    return [str(entry["email"]) for entry in body.get("entries", []) if not entry.get("list_id")]


def bans_of(backend: MailmanBackend, fqdns: Iterable[str]) -> dict[str, list[str]]:
    """The bans of each named list (one request each, concurrently); a list gone since
    it was listed has none."""
    wanted = sorted(set(fqdns))

    def read_one(fqdn: str) -> list[str]:
        body = backend._get_or_none(list_path(fqdn, "bans"))
        return [] if body is None else [str(e["email"]) for e in body.get("entries", [])]

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        bans = list(pool.map(read_one, wanted))
    return dict(zip(wanted, bans, strict=True))


def archive_policies(backend: MailmanBackend, fqdns: Iterable[str]) -> dict[str, str]:
    """The archive policy of each named list that exists (its settings, one request
    each, concurrently)."""
    wanted = sorted(set(fqdns))

    def read_one(fqdn: str) -> Any:
        return backend._get_or_none(list_path(fqdn, "config"))

    with ThreadPoolExecutor(max_workers=backend.workers) as pool:
        configs = list(pool.map(read_one, wanted))
    return {
        fqdn: str(config.get("archive_policy"))
        for fqdn, config in zip(wanted, configs, strict=True)
        if isinstance(config, dict)
    }
