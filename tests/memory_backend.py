"""An in-memory Mailman for the pure unit tests of the diff (tests/unit/): a fake.

`MemoryBackend` keeps a site's lists in a `listsync.snapshot.Snapshot`, which
answers `server`, `languages` and `read_site` as `MailmanBackend` does, and
takes the writes that `apply` makes (every `write` of a change) on the
`ListState`s it holds, so that `apply.apply_plan` runs against it. It refuses
what Mailman refuses and the order of a plan's changes is meant to avoid (a
banned address, a second ban of what a ban matches, an owner added twice),
and it stores a setting the way Mailman stores the form value listsync sends
(`stored_setting`). A removal that finds nothing to remove is done, as
`MailmanBackend` makes it. Beside the lists' states it holds what they do not:
each list's members (`members`), the site-wide bans (`site_bans`) and which
user holds which addresses (`users`), for the changes of a person's removal.

It is a model written from Mailman's source (3.3.10: `rest/validator.py`,
`rest/listconf.py`, `model/bans.py`, `model/mailinglist.py`), good for
checking the diff, the order of changes and their rendering without a server.
It is never evidence that apply works against Mailman: what claims that runs
against the real cores (tests/ outside unit/).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast
from unittest import mock
from urllib.parse import parse_qs

import requests

from listsync import acceptance, mailman_settings, mailman_templates
from listsync.acceptance import HeaderRule
from listsync.changes import ListWriter, SiteWriter
from listsync.mailman import LiveSite, MailmanBackend, MailmanError, ServerInfo, server_info
from listsync.mailman_templates import NotServedError
from listsync.plan import Plan, diff_site
from listsync.policy import ListState
from listsync.reconcile import Reading, details_to_read
from listsync.snapshot import Snapshot

SERVER = "GNU Mailman 3.3.10 (Tom Sawyer)"
LANGUAGES = frozenset(mailman_settings.STOCK_LANGUAGES | {"en"})


class Writer(ListWriter, SiteWriter, Protocol):
    """The part of `MailmanBackend` that `apply` uses: the changes' writes, and these."""

    workers: int

    def create_domain(self, domain: str) -> None: ...


# -- what Mailman stores for a form-encoded PATCH ----------------------------------------------


def form_values(value: object) -> list[str]:
    """What Mailman's request parsing sees of one key of the form body requests sends for
    `value`: each item of a list, the str() of anything else; blank values are kept
    (`keep_blank_qs_values`), and a key sent no value (None, an empty list) is absent."""
    body = requests.Request("PATCH", "http://mailman.invalid/", data={"key": value}).prepare().body
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return parse_qs(text, keep_blank_values=True).get("key", [])


def stored_setting(name: str, values: list[str]) -> object:
    """The JSON value `GET .../config` answers for setting `name` once a PATCH sent it
    `values` (`form_values`); `ValueError` for what Mailman answers 400 to.

    Mailman's validator gets one value as a string and several as a list
    (`Validator.__call__`), converts it with the setting's converter (`listconf.py`)
    and answers with the stored value (`rest/helpers.py`: a duration as `"<days>d"`
    or `"<days>d<seconds>s"`)."""
    setting = mailman_settings.SETTINGS[name]
    if name not in mailman_settings.WRITABLE:
        raise ValueError(f"{name} cannot be PATCHed")
    received: str | list[str] = values[0] if len(values) == 1 else values
    kind = setting.kind
    if kind == "list":
        items = [] if received == "" else [received] if isinstance(received, str) else received
        if name == "acceptable_aliases":  # IAcceptableAliasSet.add, then sorted()
            if not all(item.startswith("^") or "@" in item for item in items):
                raise ValueError(f"bad alias in {items!r}")
            return sorted(item.lower() for item in items)
        return list(items)
    if not isinstance(received, str):
        raise ValueError(f"{name} takes one value, not {received!r}")
    if kind == "bool":  # lazr.config.as_boolean
        words = {"true": True, "yes": True, "1": True, "on": True, "enabled": True}
        words |= {"enable": True, "false": False, "no": False, "0": False, "off": False}
        words |= {"disabled": False, "disable": False}
        return words[received.lower()]
    if kind == "int":  # integer_ge_zero_validator
        number = int(received)
        if number < 0:
            raise ValueError(f"{name} must be >= 0")
        return number
    if kind == "float":
        return float(received)
    if kind == "enum" and received not in setting.choices:
        raise ValueError(f"{received!r} is no {name}")
    if kind == "timedelta":  # lazr.config.as_timedelta (ported as parse_duration), then GET
        return mailman_settings.format_duration(mailman_settings.parse_duration(received))
    if name == "description" and "\n" in received:  # no_newlines_validator
        raise ValueError("description: no newlines")
    return received


def new_list_settings(fqdn: str) -> dict[str, Any]:
    """The config of a list Mailman has just created with the private style, and some of
    the bookkeeping it reports besides (which a plan must never show as drift)."""
    name, domain = fqdn.split("@")
    return {
        **mailman_settings.NEW_LIST_DEFAULTS,
        "advertised": False,
        "archive_policy": "private",
        "subscription_policy": "confirm_then_moderate",
        "display_name": name.capitalize(),
        "subject_prefix": f"[{name.capitalize()}] ",
        "created_at": "2025-01-01T00:00:00.000000",
        "fqdn_listname": fqdn,
        "last_post_at": None,
        "list_name": name,
        "mail_host": domain,
        "next_digest_number": 1,
        "posting_address": fqdn,
        "volume": 1,
    }


# -- the backend ------------------------------------------------------------------------------


def snapshot(
    domain: str, states: Mapping[str, ListState], *, domain_exists: bool = True
) -> Snapshot:
    """A snapshot holding `states` (by list name) in full, as Mailman has them."""
    return Snapshot(
        source="memory",
        taken_at=datetime(2025, 1, 1, tzinfo=UTC),
        server_info=server_info({"mailman_version": SERVER, "api_version": "3.1"}, "memory"),
        domain=domain,
        domain_exists=domain_exists,
        known_languages=LANGUAGES,
        states=dict(states),
    )


class MemoryBackend:
    """A site's lists in memory, read as a snapshot and written as `apply` writes them.

    `history` holds (list name, state) after each write, in order, so a test can
    look at every state a list went through.
    """

    workers = 4

    def __init__(self, held: Snapshot) -> None:
        self.snapshot = held
        self.history: list[tuple[str, ListState]] = []
        self.members: dict[str, frozenset[str]] = {}  # list name -> its members
        self.site_bans: frozenset[str] = frozenset()
        self.users: dict[str, frozenset[str]] = {}  # user id -> its addresses
        self._lock = threading.Lock()

    @classmethod
    def holding(
        cls,
        domain: str,
        states: Mapping[str, ListState],
        *,
        domain_exists: bool = True,
        members: Mapping[str, frozenset[str]] | None = None,
        users: Mapping[str, frozenset[str]] | None = None,
    ) -> MemoryBackend:
        backend = cls(snapshot(domain, states, domain_exists=domain_exists))
        backend.members = dict(members or {})
        backend.users = dict(users or {})
        return backend

    def as_backend(self) -> MailmanBackend:
        """This fake where `apply` asks for a `MailmanBackend` (both are `Writer`s)."""
        return cast(MailmanBackend, self)

    @property
    def states(self) -> dict[str, ListState]:
        return self.snapshot.states

    # reading

    def server(self) -> ServerInfo:
        return self.snapshot.server()

    def languages(self) -> frozenset[str]:
        return self.snapshot.languages()

    def read_site(
        self,
        domain: str,
        names: Iterable[str],
        *,
        everything: bool,
        bans_for: Iterable[str] = (),
        details: Mapping[str, frozenset[str]] | None = None,
    ) -> LiveSite:
        with self._lock:
            return self.snapshot.read_site(
                domain, names, everything=everything, bans_for=bans_for, details=details
            )

    def reading(self, desired: dict[str, ListState]) -> Reading:
        """Both sides of a plan of every list, read as `reconcile.read_states` reads them."""
        live = self.read_site(
            self.snapshot.domain, desired, everything=True, details=details_to_read(desired)
        )
        return Reading(desired, live, everything=True, server=self.server())

    def plan(self, desired: dict[str, ListState], texts: Mapping[str, str] | None = None) -> Plan:
        """The plan of every list against what this backend holds now."""
        reading = self.reading(desired)
        planned = diff_site(
            self.snapshot.domain,
            reading.desired,
            reading.live.lists,
            domain_exists=reading.live.domain_exists,
            unmanaged=reading.live.unmanaged,
        )
        return replace(planned, texts=dict(texts or {}))

    # writing

    def _change(self, fqdn: str, **fields: Any) -> None:
        name = self._name(fqdn)
        state = replace(self.states[name], **fields)
        self.states[name] = state
        self.history.append((name, state))

    def _name(self, fqdn: str) -> str:
        name, _, domain = fqdn.partition("@")
        if domain != self.snapshot.domain or not self.snapshot.domain_exists:
            raise MailmanError(f"no domain {domain} (HTTP 404)", 404)
        if name not in self.states:
            raise MailmanError(f"no list {fqdn} (HTTP 404)", 404)
        return name

    def create_domain(self, domain: str, base_url: str | None = None) -> None:
        with self._lock:
            if domain != self.snapshot.domain or self.snapshot.domain_exists:
                raise MailmanError("Duplicate email host (HTTP 400)", 400)
            self.snapshot = replace(self.snapshot, domain_exists=True)

    def create_list(self, fqdn: str, locked_down: Mapping[str, Any]) -> None:
        with self._lock:
            name = fqdn.partition("@")[0]
            if name in self.states:
                raise MailmanError("Mailing list exists (HTTP 400)", 400)
            self.states[name] = ListState(
                fqdn=fqdn,
                settings=new_list_settings(fqdn),
                templates={},
                nonmembers={},
                header_filters=(),
            )
        self.update_settings(fqdn, locked_down)

    def update_settings(self, fqdn: str, settings: Mapping[str, Any]) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            stored = dict(state.settings)
            for key, value in settings.items():
                values = form_values(mailman_settings.wire_value(key, value))
                if not values:
                    continue  # nothing sent for this key: Mailman leaves it as it is
                try:
                    stored[key] = stored_setting(key, values)
                except (ValueError, KeyError) as exc:
                    message = f"Cannot convert parameters: {key}: {exc} (HTTP 400)"
                    raise MailmanError(message, 400) from None
            self._change(fqdn, settings=stored)

    def _banned(self, state: ListState, address: str) -> bool:
        """`IBanManager.is_banned`: a ban equal to the address, or a ^regexp matching it."""
        return any(acceptance.bans_address(ban, address) for ban in state.bans)

    def add_member(self, fqdn: str, role: str, address: str, display_name: str = "") -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            roster = state.owners if role == "owner" else state.moderators
            if address in roster:
                raise MailmanError("Member already subscribed (HTTP 409)", 409)
            if self._banned(state, address):
                raise MailmanError("Membership is banned (HTTP 400)", 400)
            field = "owners" if role == "owner" else "moderators"
            self._change(fqdn, **{field: roster | {address}})

    def remove_member(self, fqdn: str, role: str, address: str) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            roster = state.owners if role == "owner" else state.moderators
            if address not in roster:
                return  # already gone: done
            field = "owners" if role == "owner" else "moderators"
            self._change(fqdn, **{field: roster - {address}})

    def add_ban(self, fqdn: str, pattern: str) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            if pattern in state.bans and not pattern.startswith("^"):
                return  # an address banned already: done
            if self._banned(state, pattern):
                raise MailmanError("Address is already banned (HTTP 400)", 400)
            self._change(fqdn, bans=state.bans | {pattern})

    def remove_ban(self, fqdn: str, pattern: str) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            if pattern not in state.bans:
                raise MailmanError(f"{pattern} is not banned (HTTP 404)", 404)
            self._change(fqdn, bans=state.bans - {pattern})

    def set_template(self, fqdn: str, name: str, url: str | None) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            if name not in mailman_templates.LIST_TEMPLATES:
                raise MailmanError(f"Unknown template {name} (HTTP 400)", 400)
            templates = {k: v for k, v in (state.templates or {}).items() if k != name}
            if url:
                templates[name] = url
            self._change(fqdn, templates=templates)

    def set_nonmember(self, fqdn: str, address: str, action: str | None, present: bool) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            nonmembers = dict(state.nonmembers or {})
            if not present:
                if address in nonmembers:
                    raise MailmanError("Member already subscribed (HTTP 409)", 409)
                if self._banned(state, address):
                    raise MailmanError("Membership is banned (HTTP 400)", 400)
            elif address not in nonmembers:
                raise MailmanError(f"no nonmember {address} (HTTP 404)", 404)
            if action is not None and action not in acceptance.RULE_ACTIONS:
                raise MailmanError(f"Invalid moderation action {action} (HTTP 400)", 400)
            nonmembers[address] = action
            self._change(fqdn, nonmembers=nonmembers)

    def set_header_filters(self, fqdn: str, desired: tuple[HeaderRule, ...]) -> None:
        """The writes of `acceptance.filter_rewrite`, one by one as `MailmanBackend` sends
        them (`acceptance.after_write` is what Mailman makes of each)."""
        with self._lock:
            rules = tuple(self.states[self._name(fqdn)].header_filters or ())
            for write in acceptance.filter_rewrite(rules, desired):
                if write.kind == "add" and any(
                    (r.header, r.pattern) == (write.rule.header, write.rule.pattern) for r in rules
                ):
                    raise MailmanError("This header match already exists (HTTP 400)", 400)
                rules = acceptance.after_write(rules, write)
                self._change(fqdn, header_filters=rules)
            if rules != desired:
                raise MailmanError(f"the rewrite ended at {rules}, not {desired}")

    def unsubscribe(self, fqdn: str, address: str) -> None:
        with self._lock:
            name = fqdn.partition("@")[0]
            self.members[name] = self.members.get(name, frozenset()) - {address.lower()}

    def subscribe_members(
        self, fqdn: str, members: Sequence[tuple[str, str]], *, welcome: bool
    ) -> None:
        with self._lock:
            name = self._name(fqdn)
            added = {address.lower() for address, _ in members}
            self.members[name] = self.members.get(name, frozenset()) | added

    def unsubscribe_members(self, fqdn: str, addresses: Sequence[str]) -> None:
        with self._lock:
            name = fqdn.partition("@")[0]
            gone = {address.lower() for address in addresses}
            self.members[name] = self.members.get(name, frozenset()) - gone

    def remove_nonmember(self, fqdn: str, address: str) -> None:
        with self._lock:
            state = self.states[self._name(fqdn)]
            nonmembers = dict(state.nonmembers or {})
            if nonmembers.pop(address, "absent") != "absent":
                self._change(fqdn, nonmembers=nonmembers)

    def ban_site(self, pattern: str) -> None:
        with self._lock:
            if pattern in self.site_bans and pattern.startswith("^"):
                raise MailmanError("Address is already banned (HTTP 400)", 400)
            self.site_bans |= {pattern}

    def erase_address(self, address: str) -> None:
        """Every membership of `address` in every role goes, then the address, and its
        user when it has no other address (Mailman's `delete_address`, `delete_user`)."""
        email = address.lower()
        with self._lock:
            for name, state in list(self.states.items()):
                nonmembers = {a: v for a, v in (state.nonmembers or {}).items() if a != email}
                erased = replace(
                    state,
                    owners=state.owners - {email},
                    moderators=state.moderators - {email},
                    nonmembers=nonmembers if state.nonmembers is not None else None,
                )
                if erased != state:
                    self.states[name] = erased
                    self.history.append((name, erased))
            self.members = {name: roster - {email} for name, roster in self.members.items()}
            for user, addresses in list(self.users.items()):
                if email in addresses:
                    if addresses == {email}:
                        del self.users[user]
                    else:
                        self.users[user] = addresses - {email}


# -- the published template texts -------------------------------------------------------------


@contextmanager
def published(texts: Mapping[str, str]) -> Iterator[None]:
    """The web server of the site's template texts, in memory: every fetch of a URL of
    `texts` answers its text, any other URL 404, as `mailman_templates.fetch` says."""

    def fetch(url: str, session: object = None) -> str:
        if url not in texts:
            raise NotServedError(f"{url} answers 404 Not Found")
        return texts[url]

    with mock.patch.object(mailman_templates, "fetch", fetch):
        yield


if TYPE_CHECKING:

    def _both_write_alike(real: MailmanBackend, fake: MemoryBackend) -> tuple[Writer, Writer]:
        """mypy checks here that `as_backend`'s cast hides no difference in the writes."""
        return real, fake
