"""Snapshots: Mailman's state of a site's domain, kept in a file, to plan without credentials.

Owns the snapshot document and the reader that plans from it. A pipeline
that holds the REST credentials (the default branch's) takes a snapshot
after it applies; a merge request's pipeline, which must never hold them,
plans against that file instead of against Mailman. Such a plan is for
review only: it is never a saved plan, and the plan applied after the
merge is made against Mailman itself, so a stale or forged snapshot can
only mislead a reviewer, never change Mailman.

The document (`format_version` 2):

    {"format": "listsync-snapshot", "format_version": 1,
     "taken_at": "2026-11-23T14:02:11Z", "server": "GNU Mailman 3.3.10 (...)",
     "domain": "lists.example.org", "domain_exists": true,
     "domain_base_url": "https://lists.example.org/postorius",
     "languages": ["en", ...],
     "lists": {"tor-dev": {"settings": {...}, "owners": [...], "moderators": [...],
                           "bans": [...], "templates": {"list:...": "https://..."},
                           "nonmembers": {"bot@example.org": "accept"},
                           "header_filters": [["x-spam-flag", "^yes", "hold"]]}, ...}}

`lists` holds every list of the domain, managed or not, with every setting
Mailman reports but the secret ones (`moderator_password`), its owners and
moderators, its bans, template URLs (never the credentials Mailman keeps
beside one), header filters and the non-members it gives an action: all
that any list file could come to manage. A merge request that starts to
manage a detail (declares `bans:` for the first time, say) is planned from
the list's whole live detail, so its plan shows every ban the merge would
lift, as the plan after the merge will. The reader answers exactly what a
read of Mailman would for the same files (`Snapshot.read_site`), which the
suite checks as a property over random files and random live states, with one
exception: a snapshot never holds members (personal data, and it is published),
so a plan against one shows a roster's declared count and says its live members
were not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from listsync import mailman_settings
from listsync.acceptance import HeaderRule
from listsync.errors import ListsyncError
from listsync.mailman import (
    LiveSite,
    MailmanBackend,
    ServerInfo,
    server_info,
)
from listsync.policy import DETAILS, Detail, ListState, reads_bans
from listsync.targets import domain_part

FORMAT = "listsync-snapshot"
FORMAT_VERSION = 2


class SnapshotError(ListsyncError):
    """A file that is not a snapshot listsync can plan from."""


def take(domain: str, backend: MailmanBackend) -> dict[str, Any]:
    """Every list of `domain` as Mailman has it now, with every detail, as a snapshot."""
    server = backend.server()
    languages = sorted(backend.languages())
    listing = backend.list_names(domain)
    present = listing or []
    details = dict.fromkeys(present, DETAILS - {Detail.MEMBERS})  # members are never published
    live = backend.read_site(domain, present, everything=False, details=details)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "server": server.text,
        "domain": domain,
        "domain_exists": listing is not None,
        "domain_base_url": backend.domain_base_url(domain) if listing is not None else None,
        "languages": languages,
        "lists": {
            name: {
                "settings": {
                    key: value
                    for key, value in state.settings.items()
                    if key not in mailman_settings.SECRETS
                },
                "owners": sorted(state.owners),
                "moderators": sorted(state.moderators),
                "bans": sorted(state.bans),
                "templates": dict(sorted((state.templates or {}).items())),
                "nonmembers": {
                    address: action
                    for address, action in sorted((state.nonmembers or {}).items())
                    if action is not None
                },
                "header_filters": [
                    [rule.header, rule.pattern, rule.action] for rule in state.header_filters or ()
                ],
            }
            for name, state in sorted(live.lists.items())
        },
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot, read back: answers what `reconcile.read_states` asks a backend."""

    source: str
    taken_at: datetime
    server_info: ServerInfo
    domain: str
    domain_exists: bool
    known_languages: frozenset[str]
    states: dict[str, ListState]
    domain_base_url: str | None = None  # what fills $mailinglist_url & co. (3.3.10)

    def server(self) -> ServerInfo:
        return self.server_info

    def domains_with_lists(self) -> list[str]:
        """A snapshot holds one domain: it cannot say which others the server has."""
        return []

    def languages(self) -> frozenset[str]:
        return self.known_languages

    def read_site(
        self,
        domain: str,
        names: Iterable[str],
        *,
        everything: bool,
        bans_for: Iterable[str] = (),
        details: Mapping[str, frozenset[str]] | None = None,
        member_counts: bool = False,
    ) -> LiveSite:
        """What `MailmanBackend.read_site` would have answered when the snapshot was taken
        (but member counts: a snapshot holds none)."""
        if domain != self.domain:
            raise SnapshotError(
                f"{self.source} is a snapshot of {self.domain}; the site's domain is {domain}"
            )
        if not self.domain_exists:
            return LiveSite(domain_exists=False, lists={})
        wanted = set(names)
        details = details or {}
        lists = {
            name: self._as_read(
                state,
                details.get(name, frozenset()) | ({Detail.BANS} if name in bans_for else set()),
            )
            for name, state in self.states.items()
            if name in wanted
        }
        unmanaged = tuple(sorted(set(self.states) - wanted)) if everything else ()
        return LiveSite(domain_exists=True, lists=lists, unmanaged=unmanaged)

    @staticmethod
    def _as_read(state: ListState, details: Iterable[str]) -> ListState:
        """What `MailmanBackend.read_site` reads of the list for these `details`: the
        others stay None, and the bans empty unless asked for or the list may be retired."""
        asked = set(details)
        return replace(
            state,
            bans=state.bans if reads_bans(asked, state.settings) else frozenset(),
            templates=state.templates if Detail.TEMPLATES in asked else None,
            nonmembers=state.nonmembers if Detail.NONMEMBERS in asked else None,
            header_filters=state.header_filters if Detail.HEADER_FILTERS in asked else None,
        )

    def age_note(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        minutes = max(0, int((now - self.taken_at).total_seconds() // 60))
        age = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
        return (
            f"planned against a snapshot of Mailman taken {self.taken_at:%Y-%m-%d %H:%M} UTC"
            f" ({age} ago, {self.server_info.text}), not against Mailman itself: lists changed"
            " since are not seen, and the plan applied after the merge is made against Mailman"
        )


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} is not a list of strings")
    return value


def loads(text: str, source: str, domain: str | None = None) -> Snapshot:
    """Read a snapshot document (its part for `domain`, in a snapshot of several domains);
    `SnapshotError` says what is wrong with it."""
    try:
        data = domain_part(json.loads(text), domain, source)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{source} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"{source} is not a listsync snapshot (from 'listsync snapshot')")
    if data.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"{source} has format_version {data.get('format_version')!r};"
            f" this listsync reads {FORMAT_VERSION}"
        )
    try:
        domain = str(data["domain"])
        states = {
            str(name): ListState(
                fqdn=f"{name}@{domain}",
                settings=dict(entry["settings"]),
                owners=frozenset(_strings(entry["owners"], "owners")),
                moderators=frozenset(_strings(entry["moderators"], "moderators")),
                bans=frozenset(_strings(entry["bans"], "bans")),
                templates={str(k): str(v) for k, v in dict(entry["templates"]).items()},
                nonmembers={str(k): str(v) for k, v in dict(entry["nonmembers"]).items()},
                header_filters=tuple(
                    HeaderRule(str(h), str(p), None if a is None else str(a))
                    for h, p, a in entry["header_filters"]
                ),
            )
            for name, entry in dict(data["lists"]).items()
        }
        return Snapshot(
            source=source,
            taken_at=datetime.strptime(str(data["taken_at"]), "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC
            ),
            server_info=server_info(
                {"mailman_version": data["server"], "api_version": "3.1"}, source
            ),
            domain=domain,
            domain_exists=bool(data["domain_exists"]),
            known_languages=frozenset(_strings(data["languages"], "languages")),
            states=states,
            domain_base_url=str(data["domain_base_url"]) if data.get("domain_base_url") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError, ListsyncError) as exc:
        raise SnapshotError(f"{source} is not a valid snapshot: {exc}") from None


def load(path: Path, domain: str | None = None) -> Snapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    return loads(text, str(path), domain)
