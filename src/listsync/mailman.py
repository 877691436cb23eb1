"""The Mailman backend: every request listsync sends to a Mailman core goes through here.

Owns the connection (mailmanclient's `Connection`, sent through the urllib3
pool requests picks for the URL, with a timeout and a request counter), what the server
is (`ServerInfo`: read once per run, refused when the URL does not answer
like Mailman's REST API), reading live state into `ListState` in bulk
(rosters of all lists in one call each, per-list configuration concurrently
with a bounded pool), and the few writes `apply` needs, made safe to send
concurrently to any number of REST workers (`AddressGate`). Errors come out
as `MailmanError` with Mailman's own words and never the credentials.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
from mailmanclient.restbase.connection import Connection
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from urllib3 import HTTPConnectionPool

from listsync import acceptance, mailman_settings
from listsync.acceptance import HeaderRule
from listsync.errors import ListsyncError
from listsync.mailman_templates import BASE_URL_SINCE
from listsync.policy import Detail, ListState, reads_bans

DEFAULT_TIMEOUT = 30.0
DEFAULT_WORKERS = 4
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.25
RETRY_STATUSES = frozenset({502, 503, 504})
# Planning at most this many lists reads their rosters list by list;
# more than that reads every roster of the server in one call per role.
BULK_ROSTER_THRESHOLD = 8
PAGE_SIZE = 1000
UNSUBSCRIBE_CHUNK = 500  # addresses per bulk unsubscription
ROLES = ("owner", "moderator")
# Only what the diff needs: Mailman serialises every other member field with
# queries of its own (preferences, user), which makes a bulk read ~5x slower.
MEMBER_FIELDS = "fields=email&fields=list_id"
# An owner's or moderator's display name can come with the roster read (one more field,
# no request more: Mailman gives the address's name, else its user's, looking the user up
# for each member), so it is asked for only where it is used (`import`).
ROLE_FIELDS = "fields=email"
# One person's places: what `person show` prints of each (rest/members.py, 3.3.8 to 3.3.10).
PERSON_FIELDS = "&".join(
    f"fields={name}" for name in ("list_id", "email", "role", "moderation_action", "delivery_mode")
)
# Mailman's DeliveryStatus, enabled first: the member resource has no field for it.
DELIVERY_STATUSES = ("enabled", "by_user", "by_bounces", "by_moderator", "unknown")


class MailmanError(ListsyncError):
    """A request Mailman refused or could not answer; the message is Mailman's."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MailmanAway(MailmanError):
    """Mailman gave no answer: `MailmanUnreachable` or `MailmanTooSlow`."""


class MailmanUnreachable(MailmanAway):
    """No connection to Mailman: refused, dropped, or no such host."""


class MailmanTooSlow(MailmanAway):
    """Mailman took the request but did not answer within the timeout."""


class NotJSONError(MailmanError):
    """An answer that is not JSON: whatever answered is not Mailman's REST API."""


class NotMailmanError(ListsyncError):
    """The URL answers, but not as Mailman's REST API does."""


# Versions listsync is tested against; others are used, with a warning.
TESTED_VERSIONS = ((3, 3, 8), (3, 3, 10))
API_VERSION = "3.1"
_VERSION_TEXT = re.compile(r"^GNU Mailman (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What `GET /system/versions` says about the server."""

    version: tuple[int, int, int]
    text: str  # Mailman's own words, e.g. "GNU Mailman 3.3.8 (Tom Sawyer)"

    @property
    def release(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def tested(self) -> bool:
        return TESTED_VERSIONS[0] <= self.version <= TESTED_VERSIONS[1]


def _expected_api(url: str) -> str:
    return (
        f"expected Mailman's REST API {API_VERSION} at {redact_url(url)}"
        f" (a URL such as http://localhost:8001/{API_VERSION})"
    )


def server_info(body: Any, url: str) -> ServerInfo:
    """Check the versions resource's answer; say what was expected when it is not Mailman's."""
    expected = _expected_api(url)
    if not isinstance(body, dict) or not isinstance(body.get("mailman_version"), str):
        raise NotMailmanError(f"{expected}, but system/versions did not answer as Mailman does")
    match = _VERSION_TEXT.match(body["mailman_version"])
    if match is None:
        raise NotMailmanError(f"{expected}, but it says it is {body['mailman_version']!r}")
    if body.get("api_version") != API_VERSION:
        raise NotMailmanError(
            f"{expected}, but this URL serves API version {body.get('api_version')!r}"
        )
    major, minor, patch = (int(part) for part in match.groups())
    return ServerInfo((major, minor, patch), body["mailman_version"])


class AddressGate:
    """Lets one subscription at a time create an address Mailman has not seen yet.

    Mailman's `POST /members` looks the address up and, when it is missing,
    creates it, in the request's one transaction, committed before the answer
    is sent. Two such requests for the same new address served at once by two
    REST workers both insert it, and one fails at commit with a unique
    violation (HTTP 500) - every version, SQLite and PostgreSQL alike. So the
    first subscription of each address holds that address's lock until it is
    answered with success; from then on the address exists, committed, and
    every later subscription only looks it up and runs freely. However many
    workers serve the API, no two requests of ours can insert one address.
    An address once subscribed with success pays nothing more.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._known: set[str] = set()

    @contextmanager
    def first_use(self, address: str) -> Iterator[None]:
        key = address.lower()
        with self._guard:
            lock = None if key in self._known else self._locks.setdefault(key, threading.Lock())
        if lock is None:
            yield
            return
        with lock:
            yield
            with self._guard:
                self._known.add(key)


def redact_url(url: str) -> str:
    """The URL without any user:password@ part."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@dataclass
class RequestCounter:
    """Requests sent, by HTTP method; thread-safe."""

    by_method: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, method: str) -> None:
        with self._lock:
            self.by_method[method] += 1

    @property
    def reads(self) -> int:
        return self.by_method.get("GET", 0)

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.by_method.items() if method != "GET")

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


class _PoolAdapter(requests.adapters.HTTPAdapter):
    """requests' transport adapter, asked once for the urllib3 pool of the REST URL."""

    def pool_for(self, url: str) -> tuple[HTTPConnectionPool, bool]:
        """The pool requests would send `url`'s requests through (the proxy and CA bundle
        of the environment, NO_PROXY honoured), and whether it wants whole URLs (a plain
        HTTP proxy) rather than paths."""
        environment = requests.Session().merge_environment_settings(url, {}, None, None, None)
        request = requests.Request("GET", url).prepare()
        proxies, verify = environment["proxies"], environment["verify"]
        pool = self.get_connection_with_tls_context(request, verify, proxies)
        assert isinstance(pool, HTTPConnectionPool)  # HTTPS pools too; a ConnectionPool by type
        # as `send` does: certifi's bundle by default (untyped in types-requests)
        self.cert_verify(pool, url, verify, None)  # type: ignore[no-untyped-call]
        return pool, self.request_url(request, proxies) != request.path_url


class PooledConnection(Connection):  # type: ignore[misc]
    """mailmanclient's Connection (its URLs and form-encoded bodies) sent straight to the
    urllib3 pool requests picks for the REST URL, with a timeout.

    requests' own work for each request (preparing it, merging settings and headers,
    hooks) took more of listsync's CPU than urllib3's sending and reading, on a machine
    whose CPUs Mailman needs; the pool, and with it the proxy and TLS settings, is the
    one requests would use.
    """

    def __init__(
        self, baseurl: str, name: str, password: str, *, timeout: float, pool_size: int
    ) -> None:
        super().__init__(baseurl, name, password)
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.seconds = timeout
        self.counter = RequestCounter()
        self.adapter = _PoolAdapter(pool_connections=1, pool_maxsize=pool_size)
        try:
            self.pool, self.whole_urls = self.adapter.pool_for(self.baseurl)
        except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as exc:
            raise MailmanUnreachable(
                f"cannot reach Mailman at {redact_url(self.baseurl)}: {type(exc).__name__}"
            ) from None
        except OSError as exc:  # requests' words for a CA bundle that is not there
            raise MailmanUnreachable(
                f"cannot reach Mailman at {redact_url(self.baseurl)}: {exc}"
            ) from None
        parts = urlsplit(self.baseurl)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        # A proxy is sent the whole URL, without any user:password@ the REST URL holds.
        self.target_prefix = redact_url(self.origin) if self.whole_urls else ""
        self.headers = urllib3.make_headers(basic_auth=f"{name}:{password}")

    def close(self) -> None:
        self.adapter.close()

    def call(
        self, path: str, data: Mapping[str, Any] | None = None, method: str | None = None
    ) -> tuple[urllib3.BaseHTTPResponse, Any]:
        params = self._prepare_request(path, data, method)
        method = params["method"]
        url = params["url"]
        self.counter.count(method)
        try:
            response = self.pool.urlopen(
                method,
                self.target_prefix + url[len(self.origin) :],
                body=params["data"],
                headers={**self.headers, **params["headers"]},
                redirect=False,
                assert_same_host=False,
                retries=NO_RETRIES,
                timeout=self.timeout,
            )
        except urllib3.exceptions.ReadTimeoutError:
            raise MailmanTooSlow(
                f"Mailman at {redact_url(self.baseurl)} did not answer within {self.seconds:g} s"
                " (--timeout)",
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise MailmanUnreachable(
                f"cannot reach Mailman at {redact_url(self.baseurl)}: {_failure_name(exc)}",
            ) from None
        if response.status // 100 == 3:
            where = redact_url(response.headers.get("Location", ""))
            raise MailmanError(
                f"redirected to {where!r}; set MAILMAN_REST_URL to the REST API's own address"
                f" (HTTP {response.status})",
                response.status,
            )
        if response.status // 100 != 2:
            raise MailmanError(f"{_reason(response)} (HTTP {response.status})", response.status)
        if not response.data:
            return response, None
        try:
            return response, json.loads(response.data)
        except ValueError:
            raise NotJSONError(
                f"Mailman answered {method} {redact_url(url)} with something"
                " that is not JSON; is MAILMAN_REST_URL the REST API (e.g. .../3.1)?",
                response.status,
            ) from None


# Retries are tenacity's (`MailmanBackend.call`), and a lost answer is not read twice.
NO_RETRIES = urllib3.Retry(total=0, read=False, redirect=False)


def _failure_name(exc: urllib3.exceptions.HTTPError) -> str:
    """The name of what went wrong, as requests would have called it."""
    cause: Exception = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    if isinstance(cause, urllib3.exceptions.NewConnectionError):  # a ConnectTimeoutError too
        return "ConnectionError"
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return "ConnectTimeout"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "SSLError"
    if isinstance(cause, urllib3.exceptions.ProxyError):
        return "ProxyError"
    return "ConnectionError"


def _reason(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip() or response.reason or ""
    if isinstance(body, dict) and "description" in body:
        return str(body["description"])
    if isinstance(body, dict) and "title" in body:
        return str(body["title"])
    return text.strip()


def is_outage(exc: BaseException) -> bool:
    """No answer, or a gateway's 502/503/504: Mailman is away, not refusing."""
    if isinstance(exc, MailmanAway):
        return True
    return isinstance(exc, MailmanError) and exc.status in RETRY_STATUSES


def _answered(status: int, *words: str) -> Callable[[MailmanError], bool]:
    """Mailman's answer when a write meets its own earlier effect (its words, 3.3.8 to 3.3.10)."""
    return lambda exc: exc.status == status and all(word in str(exc) for word in words)


def _any(*tests: Callable[[MailmanError], bool]) -> Callable[[MailmanError], bool]:
    return lambda exc: any(test(exc) for test in tests)


# A retried write that finds its first attempt's effect counts as done. Only
# these answers do: any other 400 is a real refusal.
DOMAIN_EXISTS = _answered(400, "Duplicate email host")
LIST_EXISTS = _answered(400, "Mailing list exists")
# An owner or moderator: 400 "x is already an owner of y" ("an moderator" too;
# rest/members.py, 3.3.8 to 3.3.10); a regular member: 409 "Member already subscribed".
ALREADY_MEMBER = _any(
    _answered(400, " is already an ", " of "), _answered(409, "Member already subscribed")
)
ALREADY_BANNED = _answered(400, "Address is already banned")
FILTER_EXISTS = _answered(400, "This header match already exists")
GONE = _answered(404)


def list_id(fqdn: str) -> str:
    """Mailman's list id: the posting address with its @ as a dot."""
    return fqdn.replace("@", ".", 1)


class UnsafePathError(ListsyncError):
    """A value that would not name one resource in a REST path (`..`, `/`, empty)."""


def list_path(fqdn: str, *rest: str) -> str:
    """The REST path of a list's resource, every segment quoted; `..` and the like refused."""
    parts = (list_id(fqdn), *rest)
    unsafe = [part for part in parts if part.strip(".") == "" or "/" in part]
    if unsafe:
        raise UnsafePathError(
            f"refusing to send {unsafe[0]!r} to Mailman as part of a path:"
            " it does not name one resource"
        )
    return "/".join(["lists", *(quote(part, safe="@") for part in parts)])


def path_segment(value: str) -> str:
    """`value` quoted as one segment of a REST path; `..`, `/` and empty refused."""
    if value.strip(".") == "" or "/" in value:
        raise UnsafePathError(
            f"refusing to send {value!r} to Mailman as part of a path:"
            " it does not name one resource"
        )
    return quote(value, safe="@")


@dataclass(frozen=True, slots=True)
class LiveSite:
    """What Mailman has for one domain: the lists asked for, and the others."""

    domain_exists: bool
    lists: dict[str, ListState]
    unmanaged: tuple[str, ...] = ()
    member_counts: dict[str, int] = field(default_factory=dict)  # every list, when listed


class MailmanBackend:
    """Reads and writes one Mailman core over its REST API."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        workers: int = DEFAULT_WORKERS,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        self.url = url
        self.workers = workers
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.connection = PooledConnection(url, user, password, timeout=timeout, pool_size=workers)
        self.addresses = AddressGate()
        self._server: ServerInfo | None = None

    @property
    def requests(self) -> RequestCounter:
        return self.connection.counter

    def close(self) -> None:
        self.connection.close()

    def call(
        self,
        path: str,
        data: Mapping[str, Any] | None = None,
        method: str | None = None,
        *,
        done_already: Callable[[MailmanError], bool] | None = None,
        done: Callable[[MailmanError], bool] | None = None,
        retry: bool = True,
    ) -> Any:
        """One request, retried with backoff on connection errors and 502/503/504.

        4xx answers are final. A write retried after a lost answer may meet its
        own first attempt's effect (the list exists, the owner is subscribed):
        `done_already` recognises that answer, and it then counts as success.
        `done` recognises an answer that counts as success on any attempt: a removal
        that finds nothing to remove (already gone counts as done).
        A write whose repetition could hit another resource (a header filter
        named by its position, which the first attempt may have shifted) is
        sent once: `retry=False`.
        """
        retrying = Retrying(
            retry=retry_if_exception(is_outage),
            stop=stop_after_attempt(self.attempts if retry else 1),
            wait=wait_exponential(multiplier=self.backoff, max=self.backoff * 8),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    return self.connection.call(path, data, method)[1]
                except MailmanError as exc:
                    if done is not None and done(exc):
                        return None
                    retried = attempt.retry_state.attempt_number > 1
                    if retried and done_already is not None and done_already(exc):
                        return None
                    raise
        raise AssertionError("tenacity reraises the last error")

    def _get_or_none(self, path: str) -> Any:
        try:
            return self.call(path)
        except MailmanError as exc:
            if exc.status == 404:
                return None
            raise

    # reading

    def server(self) -> ServerInfo:
        """The server's version, asked once per backend; `NotMailmanError` if it is not Mailman."""
        if self._server is None:
            try:
                body = self.call("system/versions")
            except NotJSONError:
                body = None  # server_info says what was expected
            except MailmanError as exc:
                if isinstance(exc, MailmanAway) or exc.status == 401:
                    raise
                raise NotMailmanError(
                    f"{_expected_api(self.url)}, but system/versions answered: {exc}"
                ) from None
            self._server = server_info(body, self.url)
        return self._server

    def languages(self) -> frozenset[str]:
        """The language codes the server has (its `[language.*]` configuration sections)."""
        body = self.call("system/configuration")
        sections = body.get("sections", []) if isinstance(body, dict) else []
        prefix = "language."
        return frozenset(s[len(prefix) :] for s in sections if str(s).startswith(prefix))

    def domain_exists(self, domain: str) -> bool:
        return self._get_or_none(f"domains/{quote(domain, safe='')}") is not None

    def domains_with_lists(self) -> list[str]:
        """The server's domains that hold at least one list (1 request, and 1 per domain)."""
        body = self.call("domains")
        hosts = sorted(str(entry["mail_host"]) for entry in body.get("entries", []))

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            totals = list(pool.map(self.list_total, hosts))
        return [host for host, total in zip(hosts, totals, strict=True) if total]

    def list_names(self, domain: str) -> list[str] | None:
        """The names of the domain's lists, or None when there is no such domain."""
        listing = self.list_listing(domain)
        return None if listing is None else sorted(listing)

    def list_total(self, domain: str) -> int | None:
        """How many lists the domain holds, or None when there is no such domain: one
        request that serializes a single list (the full listing counts every list's
        members, one query each)."""
        path = f"domains/{quote(domain, safe='')}/lists?count=1&page=1"
        body = self._get_or_none(path)
        return None if body is None else int(body.get("total_size", 0))

    def list_listing(self, domain: str) -> dict[str, int] | None:
        """The domain's lists with their member counts (the listing carries them), or None
        when there is no such domain."""
        counts: dict[str, int] = {}
        page = 1
        while True:
            path = f"domains/{quote(domain, safe='')}/lists?count={PAGE_SIZE}&page={page}"
            body = self._get_or_none(path) if page == 1 else self.call(path)
            if body is None:
                return None
            entries = body.get("entries", [])
            counts.update((str(e["list_name"]), int(e.get("member_count") or 0)) for e in entries)
            if len(counts) >= int(body.get("total_size", 0)) or not entries:
                return counts
            page += 1

    def read_site(
        self,
        domain: str,
        names: Iterable[str],
        *,
        everything: bool,
        bans_for: Iterable[str] = (),
        details: Mapping[str, frozenset[str]] | None = None,
        display_names: bool = False,
        member_counts: bool = False,
    ) -> LiveSite:
        """Live state of the named lists in `domain`.

        With `everything`, also lists the domain's other lists as unmanaged;
        the listing tells whether the domain exists. Without, the domain is
        asked about only when none of the named lists exists. Every list's
        member count (`LiveSite.member_counts`) is read only with
        `member_counts` (the lifecycle report shows them).
        Bans are read for the lists in `bans_for` and for every list in
        emergency moderation (the disable procedure's mark); the others are
        taken to carry no ban listsync manages. `details` names, per list,
        what else to read (`policy.Detail`: templates, non-members, header
        filters, bans); what is not read stays None in its state. Owners' and
        moderators' display names are read only with `display_names` (`import`
        writes them into files): a plan does not compare them, and Mailman
        looks up each member's user to give one.

        The reads overlap (`SiteRead`): the domain's count of lists, the bulk
        rosters and the settings of every list are under way at once.
        """
        reading = SiteRead(
            self,
            domain,
            sorted(set(names)),
            everything,
            with_names=display_names,
            with_counts=member_counts,
        )
        return reading.finish(set(bans_for), details or {})

    def list_configs(self, domain: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The settings of the named lists (those that exist), one request each, concurrently."""
        wanted = sorted(set(names))

        def read_one(name: str) -> Any:
            return self._get_or_none(list_path(f"{name}@{domain}", "config"))

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            configs = list(pool.map(read_one, wanted))
        return {name: config for name, config in zip(wanted, configs, strict=True) if config}

    def lists_of(self, address: str, role: str) -> list[str]:
        """The ids of every list, in any domain, where `address` has `role` (one request)."""
        query = f"subscriber={quote(address, safe='@')}&role={quote(role)}&fields=list_id"
        body = self.call(f"members/find?{query}")
        return sorted({str(entry["list_id"]) for entry in body.get("entries", [])})

    def all_rosters(self) -> dict[str, dict[str, set[str]]]:
        """list_id -> role -> addresses, for every list of the server, one call per role."""
        rosters: dict[str, dict[str, set[str]]] = defaultdict(lambda: {r: set() for r in ROLES})
        for role in ROLES:
            for lid, named in self._bulk_roster(role).items():
                rosters[lid][role] = set(named)
        return dict(rosters)

    def _bulk_roster(self, role: str, names: bool = False) -> dict[str, dict[str, str]]:
        """list_id -> address -> display name ('' for none, and for all without `names`)
        of every list's `role` roster, in one call."""
        named: dict[str, dict[str, str]] = defaultdict(dict)
        query = f"members/find?role={role}&{MEMBER_FIELDS}" + ("&fields=display_name" * names)
        body = self.call(query)
        for entry in body.get("entries", []):
            named[str(entry["list_id"])].update(_named(entry))
        return named

    def _bulk_nonmembers(self) -> dict[str, dict[str, str | None]]:
        """list_id -> address -> moderation action (None: the list's default) of every
        list's non-members, in one call."""
        found: dict[str, dict[str, str | None]] = defaultdict(dict)
        body = self.call(f"members/find?role=nonmember&{MEMBER_FIELDS}&fields=moderation_action")
        for entry in body.get("entries", []):
            found[str(entry["list_id"])][str(entry["email"]).lower()] = entry.get(
                "moderation_action"
            )
        return found

    def _roster(self, fqdn: str, role: str, names: bool = False) -> dict[str, str]:
        """The list's `role` roster: address (lower case) -> display name ('' for none,
        and for all without `names`)."""
        fields = ROLE_FIELDS + ("&fields=display_name" * names)
        body = self.call(list_path(fqdn, "roster", role) + f"?{fields}")
        named: dict[str, str] = {}
        for entry in body.get("entries", []):
            named.update(_named(entry))
        return named

    def _read_config(self, fqdn: str) -> dict[str, Any] | None:
        """The list's settings without Mailman's bookkeeping keys; None: no such list."""
        config = self._get_or_none(list_path(fqdn, "config"))
        if config is None:
            return None
        for key in ("http_etag", "self_link"):
            config.pop(key, None)
        return dict(config)

    def _read_rest(
        self,
        fqdn: str,
        config: dict[str, Any],
        rosters: Mapping[str, Mapping[str, Mapping[str, str]]] | None,
        nonmembers: Mapping[str, dict[str, str | None]] | None,
        details: frozenset[str],
        names: bool = False,
    ) -> ListState:
        """The rest of a list's state once its settings are read: its rosters (from the
        bulk reads, else one request each) and the details asked for."""
        lid = list_id(fqdn)
        if rosters is None:
            owners = self._roster(fqdn, "owner", names)
            moderators = self._roster(fqdn, "moderator", names)
        else:
            roster = rosters.get(lid, {})
            owners, moderators = dict(roster.get("owner", {})), dict(roster.get("moderator", {}))
        bans: frozenset[str] = frozenset()
        if reads_bans(details, config):
            body = self.call(list_path(fqdn, "bans"))
            bans = frozenset(str(entry["email"]) for entry in body.get("entries", []))
        members, members_unread = None, None
        if Detail.MEMBERS in details:
            try:
                members = self.members(fqdn)
            except MailmanError as exc:
                if is_outage(exc):
                    raise
                members_unread = str(exc)  # this list's roster is left alone, not the run
        non: dict[str, str | None] | None = None
        if Detail.NONMEMBERS in details:
            non = dict(nonmembers.get(lid, {})) if nonmembers is not None else self.nonmembers(fqdn)
        return ListState(
            fqdn=fqdn,
            settings=config,
            owners=frozenset(owners),
            moderators=frozenset(moderators),
            display_names={
                address: name for address, name in {**moderators, **owners}.items() if name
            },
            bans=bans,
            templates=self.templates(fqdn) if Detail.TEMPLATES in details else None,
            nonmembers=non,
            header_filters=(
                self.header_filters(fqdn) if Detail.HEADER_FILTERS in details else None
            ),
            members=members,
            members_unread=members_unread,
        )

    def templates(self, fqdn: str) -> dict[str, str | None]:
        """Template name -> URL set for the list (never the username or password Mailman
        returns beside a URL: they are dropped here)."""
        body = self.call(list_path(fqdn, "uris"))
        return {str(entry["name"]): str(entry["uri"]) for entry in body.get("entries", [])}

    def nonmembers(self, fqdn: str) -> dict[str, str | None]:
        """Address -> moderation action (None: the list's default) of every non-member."""
        body = self.call(
            list_path(fqdn, "roster", "nonmember") + "?fields=email&fields=moderation_action"
        )
        return {
            str(entry["email"]).lower(): entry.get("moderation_action")
            for entry in body.get("entries", [])
        }

    def header_filters(self, fqdn: str) -> tuple[HeaderRule, ...]:
        body = self.call(list_path(fqdn, "header-matches"))
        entries = sorted(body.get("entries", []), key=lambda entry: int(entry["position"]))
        return tuple(
            HeaderRule(str(e["header"]), str(e["pattern"]), e.get("action")) for e in entries
        )

    # writing

    def create_domain(self, domain: str, base_url: str | None = None) -> None:
        """Create `domain`, with `base_url` (the web interface's root, which Mailman 3.3.10
        fills `$base_url`, `$mailinglist_url`, ... of templates with) where the server's
        domains have one: 3.3.8 refuses the parameter."""
        data = {"mail_host": domain}
        if base_url is not None and self.server().version >= BASE_URL_SINCE:
            data["base_url"] = base_url
        self.call("domains", data, done_already=DOMAIN_EXISTS)

    def domain_base_url(self, domain: str) -> str | None:
        """The domain's `base_url` (None: it has none, or there is no such domain)."""
        body = self._get_or_none(f"domains/{quote(domain, safe='')}")
        value = body.get("base_url") if isinstance(body, dict) else None
        return str(value) if value else None

    def create_list(self, fqdn: str, locked_down: Mapping[str, Any]) -> None:
        """Create the list private (Mailman's private style), then lock it down at once."""
        self.create_configured_list(fqdn, locked_down, None)

    def create_configured_list(
        self, fqdn: str, locked_down: Mapping[str, Any], configured: Mapping[str, Any] | None
    ) -> bool:
        """`create_list`, with `configured` (the lockdown and settings that open nothing
        more) as the one PATCH sent after the creation; should Mailman refuse it (one
        value it does not take refuses the whole PATCH), the lockdown alone is sent
        instead. True: `configured` is in."""
        data = {"fqdn_listname": fqdn, "style_name": mailman_settings.NEW_LIST_STYLE}
        self.call("lists", data, done_already=LIST_EXISTS)
        if configured is not None:
            try:
                self.update_settings(fqdn, configured)
            except MailmanError as exc:
                if is_outage(exc):
                    raise
            else:
                return True
        self.update_settings(fqdn, locked_down)
        return False

    def update_settings(self, fqdn: str, settings: Mapping[str, Any]) -> None:
        form = {key: mailman_settings.wire_value(key, value) for key, value in settings.items()}
        self.call(list_path(fqdn, "config"), form, method="PATCH")

    def add_member(self, fqdn: str, role: str, address: str, display_name: str = "") -> None:
        data = {
            "list_id": list_id(fqdn),
            "subscriber": address,
            "role": role,
            "pre_verified": "true",
            "pre_confirmed": "true",
            "pre_approved": "true",
        }
        if display_name:
            data["display_name"] = display_name
        with self.addresses.first_use(address):
            self.call("members", data, done_already=ALREADY_MEMBER)

    def remove_member(self, fqdn: str, role: str, address: str) -> None:
        """Take `address` out of the list's `role` roster; already out (404) counts as done."""
        path = list_path(fqdn, role, address)
        self.call(path, method="DELETE", done=GONE)

    def add_ban(self, fqdn: str, pattern: str) -> None:
        """Ban `pattern` on the list; an address banned already counts as done."""
        self._ban(list_path(fqdn, "bans"), pattern)

    def remove_ban(self, fqdn: str, pattern: str) -> None:
        self.call(list_path(fqdn, "bans", pattern), method="DELETE", done_already=GONE)

    def set_template(self, fqdn: str, name: str, url: str | None) -> None:
        """Point template `name` at `url`; None deletes it (Mailman's own text). Without a
        username and password, so none set by hand stays attached to the new URL."""
        self.call(list_path(fqdn, "uris"), {name: url or ""}, method="PATCH")

    def set_nonmember(self, fqdn: str, address: str, action: str | None, present: bool) -> None:
        """Give non-member `address` moderation action `action` (None: the list's default),
        adding it to the non-member roster first when it is not there."""
        if not present:
            data = {"list_id": list_id(fqdn), "subscriber": address, "role": "nonmember"}
            with self.addresses.first_use(address):
                self.call("members", data, done_already=ALREADY_MEMBER)
        path = list_path(fqdn, "nonmember", address)
        self.call(path, {"moderation_action": action or ""}, method="PATCH")

    def unsubscribe(self, fqdn: str, address: str) -> None:
        """Unsubscribe member `address` from the list at once, with Mailman's bulk removal
        (`DELETE lists/{id}/roster/member`, emails=[...]): it unsubscribes the member
        directly, with no goodbye mail and no moderator's approval even when the list
        moderates unsubscriptions (`DELETE members/{id}` goes through the unsubscription
        workflow, which may hold the request instead: 202, still a member), takes the
        member role only, and also finds a membership made through the user whose
        preferred address this is. Its answer says per address whether it was a member:
        not one (already gone), or no such list (404), counts as done."""
        path = list_path(fqdn, "roster", "member")
        body = self.call(path, {"emails": [address.lower()]}, method="DELETE", done=GONE)
        if body is not None and not isinstance(body, dict):
            raise MailmanError(f"unexpected answer to the unsubscription: {body!r}")

    def members(self, fqdn: str) -> frozenset[str]:
        """Every member's address (lower case), from one read (`fields=email`, ~5x cheaper
        than whole records) that must hold every member its `total_size` counts: a roster
        read short is never planned from."""
        body = self.call(list_path(fqdn, "roster", "member") + "?fields=email")
        entries = body.get("entries", [])
        total = body.get("total_size")
        if not isinstance(total, int) or total != len(entries):
            raise MailmanError(
                f"{fqdn}: Mailman's member roster came back with {len(entries)} entries of"
                f" {total!r}: a roster read short is never planned from"
            )
        return frozenset(str(entry["email"]).lower() for entry in entries)

    def subscribe_members(
        self, fqdn: str, members: Sequence[tuple[str, str]], *, welcome: bool
    ) -> None:
        """Subscribe each (address, delivery mode), `workers` at a time (Mailman has no
        bulk subscribe): pre-verified, pre-confirmed, pre-approved, with a welcome mail
        only when asked; a member already counts as done. Once every request has ended,
        the first error (an outage first, still an outage) is raised with the count not
        subscribed."""

        def subscribe(member: tuple[str, str]) -> MailmanError | None:
            address, mode = member
            data = {
                "list_id": list_id(fqdn),
                "subscriber": address,
                "role": "member",
                "pre_verified": "true",
                "pre_confirmed": "true",
                "pre_approved": "true",
                "send_welcome_message": "true" if welcome else "false",
                "delivery_mode": mode,
            }
            try:
                with self.addresses.first_use(address):
                    self.call("members", data, done=ALREADY_MEMBER)
            except MailmanError as exc:
                return exc
            return None

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            errors = [error for error in pool.map(subscribe, members) if error is not None]
        if not errors:
            return
        not_subscribed = f"{len(errors)} of {len(members)} members not subscribed"
        outage = next((error for error in errors if is_outage(error)), None)
        if outage is not None:  # its kind kept: the run stops as for any outage
            raise type(outage)(f"{not_subscribed}: {outage}", outage.status)
        raise MailmanError(f"{not_subscribed}; the first: {errors[0]}", errors[0].status)

    def unsubscribe_members(self, fqdn: str, addresses: Sequence[str]) -> None:
        """Unsubscribe the addresses with Mailman's bulk removal (as `unsubscribe`), in
        chunks; an address not a member (already gone) counts as done."""
        path = list_path(fqdn, "roster", "member")
        wanted = [address.lower() for address in addresses]
        for start in range(0, len(wanted), UNSUBSCRIBE_CHUNK):
            chunk = wanted[start : start + UNSUBSCRIBE_CHUNK]
            body = self.call(path, {"emails": chunk}, method="DELETE", done=GONE)
            if body is not None and not isinstance(body, dict):
                raise MailmanError(f"unexpected answer to the unsubscription: {body!r}")

    def remove_nonmember(self, fqdn: str, address: str) -> None:
        """Take `address` off the list's non-member roster; not on it (404) counts as done."""
        self.call(list_path(fqdn, "nonmember", address), method="DELETE", done=GONE)

    def owners(self, fqdn: str) -> frozenset[str]:
        """The list's owners, lower case (one request)."""
        return frozenset(self._roster(fqdn, "owner"))

    def ban_site(self, pattern: str) -> None:
        """Ban `pattern` on every list of the server; an address banned already counts as
        done."""
        self._ban("bans", pattern)

    def _ban(self, path: str, pattern: str) -> None:
        """POST the ban. Mailman's "already banned" means done for an address (it is
        banned, as asked), on any attempt; for a ^regexp only on a retry (another ban may
        match its text)."""
        plain = not pattern.startswith("^")
        self.call(
            path,
            {"email": pattern},
            done=ALREADY_BANNED if plain else None,
            done_already=ALREADY_BANNED,
        )

    def erase_address(self, address: str) -> None:
        """Delete `address` from Mailman with every membership it has, and its user when
        the user has no other address.

        A user whose one address this is is deleted in one request
        (`DELETE users/{id}` deletes its addresses and memberships in Mailman's one
        transaction), so no stop between two writes leaves a user without an address
        that no later run could find by it. Otherwise only the address goes
        (`DELETE addresses/{email}`) and the user keeps its other addresses. An
        address Mailman no longer has (404) counts as done.
        """
        email = path_segment(address)
        user = self._get_or_none(f"users/{email}")
        if isinstance(user, dict) and user.get("user_id") is not None:
            uid = path_segment(str(user["user_id"]))
            body = self._get_or_none(f"users/{uid}/addresses")
            entries = body.get("entries", []) if isinstance(body, dict) else []
            others = {str(e["email"]).lower() for e in entries} - {address.lower()}
            if not others:
                self.call(f"users/{uid}", method="DELETE", done=GONE)
                return
        self.call(f"addresses/{email}", method="DELETE", done=GONE)

    def set_header_filters(self, fqdn: str, desired: tuple[HeaderRule, ...]) -> None:
        """Make the list's header filters `desired`, in order, one write at a time in the
        order `acceptance.filter_rewrite` gives: stopped after any write (refused, failed,
        its answer lost), the list lets no message further than its old or its new rules
        do, and the next apply finishes the rewrite.

        Rules are added by header and pattern (a lost answer is retried and recognised);
        the other writes name a rule by its position, computed from what Mailman has
        after the writes so far, which is read again before each such write: if it is
        not what listsync left, someone else changed the rules, and nothing more is
        written to them. A positional write is sent once: repeated after a lost answer
        it could hit the rule its first attempt moved there.
        """
        now = self.header_filters(fqdn)
        fresh = True
        for write in acceptance.filter_rewrite(now, desired):
            if write.kind == "add":
                data = {"header": write.rule.header, "pattern": write.rule.pattern}
                if write.rule.action:
                    data["action"] = write.rule.action
                self.call(list_path(fqdn, "header-matches"), data, done_already=FILTER_EXISTS)
            else:
                if not fresh and self.header_filters(fqdn) != now:
                    raise MailmanError(
                        "the list's header filters changed while listsync was rewriting them;"
                        " nothing more was written to them: apply again"
                    )
                path = list_path(
                    fqdn, "header-matches", str(acceptance.position_of(now, write.rule))
                )
                if write.kind == "action":
                    data = {"action": write.rule.action or ""}
                    self.call(path, data, method="PATCH", retry=False)
                elif write.kind == "move":
                    self.call(path, {"position": str(write.position)}, method="PATCH", retry=False)
                else:
                    self.call(path, method="DELETE", retry=False)
            now = acceptance.after_write(now, write)
            fresh = False


@dataclass(frozen=True, slots=True)
class Listing:
    """What a `SiteRead` knows of the domain's lists: how many there are, and their
    names with member counts once the full listing is read (None before)."""

    total: int
    counts: dict[str, int] | None


class SiteRead:
    """One `read_site` under way, its reads overlapping on one pool of `workers` threads.

    Started at once: the domain's count of lists (with `everything`), the
    bulk owner and moderator rosters (more than `BULK_ROSTER_THRESHOLD`
    lists) and each named list's settings, so that Mailman's workers are
    never idle waiting for one big answer. The full listing, which costs
    Mailman a member count per list, is read only where the count cannot
    settle it: when member counts are asked for, when the domain holds fewer
    lists than are named (it then tells which to ask for: a new domain or new
    lists send few settings reads in vain), or when the named lists found are
    not all the domain holds (the others are unmanaged). `finish` then reads
    what each list's details need and builds the `LiveSite` exactly as
    reading one thing after the other would; after an error nothing more is
    sent.
    """

    def __init__(
        self,
        backend: MailmanBackend,
        domain: str,
        wanted: list[str],
        everything: bool,
        *,
        with_names: bool = False,
        with_counts: bool = False,
    ) -> None:
        self.backend = backend
        self.with_names = with_names
        self.with_counts = with_counts
        self.domain = domain
        self.wanted = wanted
        self.everything = everything
        self.pool = ThreadPoolExecutor(max_workers=backend.workers)
        self.listing: Future[Listing | None] | None = None
        if everything:
            self.listing = self.pool.submit(self._listing)
        self.bulk = len(wanted) > BULK_ROSTER_THRESHOLD
        self.rosters = {
            role: self.pool.submit(backend._bulk_roster, role, with_names)
            for role in ROLES
            if self.bulk
        }
        self.configs = [self.pool.submit(self._config, name) for name in wanted]

    def _listing(self) -> Listing | None:
        total = self.backend.list_total(self.domain)
        if total is None:
            return None
        if self.with_counts or total < len(self.wanted):
            return self._full_listing()
        return Listing(total, None)

    def _full_listing(self) -> Listing | None:
        counts = self.backend.list_listing(self.domain)
        return None if counts is None else Listing(len(counts), counts)

    def _config(self, name: str) -> dict[str, Any] | None:
        listing = self.listing
        if listing is not None and listing.done() and listing.exception() is None:
            known = listing.result()
            if (
                known is None
                or known.total == 0
                or (known.counts is not None and name not in known.counts)
            ):
                return None  # the listing has it absent: not asked for
        return self.backend._read_config(f"{name}@{self.domain}")

    def finish(self, ban_names: set[str], details: Mapping[str, frozenset[str]]) -> LiveSite:
        try:
            return self._finish(ban_names, details)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, ban_names: set[str], details: Mapping[str, frozenset[str]]) -> LiveSite:
        backend, domain = self.backend, self.domain

        def extra(name: str) -> frozenset[str]:
            asked = details.get(name, frozenset())
            return asked | {Detail.BANS} if name in ban_names else asked

        bulk_nonmembers: Future[dict[str, dict[str, str | None]]] | None = None
        if sum(Detail.NONMEMBERS in extra(name) for name in self.wanted) > BULK_ROSTER_THRESHOLD:
            bulk_nonmembers = self.pool.submit(backend._bulk_nonmembers)
        wanted = self.wanted
        unmanaged: tuple[str, ...] = ()
        member_counts: dict[str, int] = {}
        configs = {name: future.result() for name, future in zip(wanted, self.configs, strict=True)}
        if self.listing is not None:
            listing = self.listing.result()
            if listing is not None and listing.counts is None:
                found_count = sum(config is not None for config in configs.values())
                if found_count != listing.total:  # others, or a list came or went meanwhile
                    listing = self._full_listing()
            if listing is None:
                return LiveSite(domain_exists=False, lists={})
            if listing.counts is not None:
                member_counts = listing.counts
                wanted_set = set(wanted)
                unmanaged = tuple(n for n in sorted(member_counts) if n not in wanted_set)
                wanted = [n for n in wanted if n in member_counts]
        found = [name for name in wanted if configs[name] is not None]
        rosters: dict[str, dict[str, dict[str, str]]] | None = None
        if self.bulk:
            rosters = defaultdict(dict)
            for role, future in self.rosters.items():
                for lid, named in future.result().items():
                    rosters[lid][role] = named
        nonmembers = None if bulk_nonmembers is None else bulk_nonmembers.result()

        def read_rest(name: str) -> ListState:
            config = configs[name]
            assert config is not None
            return backend._read_rest(
                f"{name}@{domain}", config, rosters, nonmembers, extra(name), self.with_names
            )

        futures = [self.pool.submit(read_rest, name) for name in found]
        lists = {name: future.result() for name, future in zip(found, futures, strict=True)}
        if not self.everything and not lists and not backend.domain_exists(domain):
            return LiveSite(domain_exists=False, lists={})
        return LiveSite(
            domain_exists=True, lists=lists, unmanaged=unmanaged, member_counts=member_counts
        )


def _named(entry: Mapping[str, Any]) -> dict[str, str]:
    """A roster entry as {address (lower case): display name ('' for none)}.

    'None' is no name: mailmanclient's `add_owner` and `add_moderator` without one send
    the text 'None' (`MailingList.add_role`), and Mailman keeps it as the name."""
    name = str(entry.get("display_name") or "").strip()
    return {str(entry["email"]).lower(): "" if name == "None" else name}
