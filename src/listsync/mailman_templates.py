"""Templates: the texts Mailman sends (footers, welcome notices, ...), kept in the repository.

Owns the template names a list may set (`mailman/interfaces/template.py`,
the same 26 names from 3.3.8 to 3.3.10), the `$placeholders` Mailman fills
in each, the checks on a text (UTF-8, placeholders known, at `file:LINE:COL`),
and how a text is published and found again: under a content-addressed
name (`footer-tor.<hash>.txt` below the site's `templates_url`), so that a
changed text gets a new URL and Mailman's cache (7 days, evicted only for
the URL a PATCH replaces) never serves an old one.

Mailman fetches a template with `requests.get(url, timeout=5).text` when
its cache misses (`mailman/utilities/protocols.py`), and every failure is
silent in the mail: a URL answering 404 gives an empty text, any other
HTTP error Mailman's own default text, and no answer within 5 seconds
keeps the mail that needs it from being sent. So before `apply` points a
list at a URL, `check_served` fetches it the way Mailman will and compares
it with the repository's text: nothing unpublished, and no text a server
would decode wrongly (a `text/plain` without `charset=utf-8` is read as
ISO-8859-1), is ever set; `check_urls` does the same for many URLs at
once, each once, a few at a time.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # validating a site needs no HTTP library: imported when fetching
    import requests

TEMPLATES_DIR = "templates"
# Mailman's own timeout for fetching a template (REQUEST_TIMEOUT in mailman/utilities/
# protocols.py, 3.3.8 to 3.3.10): a server slower than this fails Mailman's fetch too.
FETCH_TIMEOUT = 5.0
# The most listsync fetches of one text (Mailman has no limit of its own): `validate`
# refuses a bigger text, so that nothing valid fails every apply's check.
MAX_TEXT_BYTES = 256 * 1024
# How many URLs `check_urls` fetches at once: a small bound, for a static server.
CHECK_WORKERS = 4

# ALL_TEMPLATES of mailman/interfaces/template.py whose name starts with "list:"
# (identical in 3.3.8, 3.3.9 and 3.3.10): what PATCH /3.1/lists/ID/uris accepts.
LIST_TEMPLATES: tuple[str, ...] = (
    "list:admin:action:post",
    "list:admin:action:subscribe",
    "list:admin:action:unsubscribe",
    "list:admin:notice:disable",
    "list:admin:notice:increment",
    "list:admin:notice:pending",
    "list:admin:notice:removal",
    "list:admin:notice:subscribe",
    "list:admin:notice:unrecognized",
    "list:admin:notice:unsubscribe",
    "list:member:digest:footer",
    "list:member:digest:header",
    "list:member:digest:masthead",
    "list:member:regular:footer",
    "list:member:regular:header",
    "list:user:action:invite",
    "list:user:action:subscribe",
    "list:user:action:unsubscribe",
    "list:user:notice:goodbye",
    "list:user:notice:hold",
    "list:user:notice:no-more-today",
    "list:user:notice:post",
    "list:user:notice:probe",
    "list:user:notice:refuse",
    "list:user:notice:rejected",
    "list:user:notice:warning",
    "list:user:notice:welcome",
)

# What mailman.utilities.string.expand() fills in for every list template (string.py).
_EXPAND = frozenset(
    [
        "site_email",
        "listname",
        "list_id",
        "display_name",
        "short_listname",
        "domain",
        "description",
        "info",
        "request_email",
        "owner_email",
        "language",
    ]
)
# Domains have a base_url from 3.3.10 on (REST /3.1/domains, model/domain.py), and
# expand() (utilities/string.py) then adds these: base_url and [urlpatterns] of schema.cfg.
BASE_URL_SINCE = (3, 3, 10)
_EXPAND_3_3_10 = frozenset(
    [
        "base_url",
        "mailinglist_url",
        "held_message_url",
        "pending_subscriptions_url",
        "pending_unsubscriptions_url",
        "domain_url",
    ]
)
# decorate_template() (handlers/decorate.py): headers and footers of posts and digests.
_DECORATE = frozenset(["fqdn_listname", "list_name", "mail_host", "request_address"])
# decorate.py, for a member's own copy (personalized list, or VERP), and the archivers.
_PERSONAL = frozenset(
    [
        "member",
        "user_email",
        "user_delivered_to",
        "user_language",
        "user_name",
        "user_address",
        "user_name_or_address",
        "user_name_or_email",
        "hyperkitty_url",
        "mhonarc_url",
    ]
)
_CONFIRM = frozenset(
    [
        "token",
        "subject",
        "confirm_email",
        "user_email",
        "confirm_address",
        "email_address",
        "domain_name",
        "contact_address",
    ]
)
_HELD = frozenset(["subject", "sender_email", "reasons", "sender"])
# What each template's caller passes beside expand()'s own, read from the code of 3.3.8
# and 3.3.10 (chains/hold.py, app/notifications.py, app/subscriptions.py, ...).
_EXTRAS: dict[str, frozenset[str]] = {
    "list:admin:action:post": _HELD,
    "list:admin:action:subscribe": frozenset({"member"}),
    "list:admin:action:unsubscribe": frozenset({"member", "mailing_list", "email"}),
    "list:admin:notice:disable": frozenset({"member"}),
    "list:admin:notice:increment": frozenset({"member"}),
    "list:admin:notice:pending": frozenset({"count", "data"}),
    "list:admin:notice:removal": frozenset({"member", "mlist"}),
    "list:admin:notice:subscribe": frozenset({"member"}),
    "list:admin:notice:unrecognized": frozenset(),
    "list:admin:notice:unsubscribe": frozenset({"member"}),
    "list:member:digest:footer": _DECORATE,
    "list:member:digest:header": _DECORATE,
    "list:member:digest:masthead": frozenset(
        {"got_list_email", "got_request_email", "got_owner_email"}
    ),
    "list:member:regular:footer": _DECORATE | _PERSONAL,
    "list:member:regular:header": _DECORATE | _PERSONAL,
    "list:user:action:invite": _CONFIRM,
    "list:user:action:subscribe": _CONFIRM,
    "list:user:action:unsubscribe": _CONFIRM,
    "list:user:notice:goodbye": frozenset(
        {"user_email", "user_address", "fqdn_listname", "list_name", "list_requests"}
    ),
    "list:user:notice:hold": _HELD,
    "list:user:notice:no-more-today": frozenset({"count", "sender_email", "sender", "owneremail"}),
    "list:user:notice:post": frozenset({"subject", "list_name"}),
    "list:user:notice:probe": frozenset({"sender_email", "address", "email", "owneraddr"}),
    "list:user:notice:refuse": frozenset({"reason", "request", "adminaddr"}),
    "list:user:notice:warning": frozenset({"sender_email"}),
    "list:user:notice:welcome": frozenset(
        {"user_name", "user_email", "user_address", "fqdn_listname", "list_name", "list_requests"}
    ),
}
PLACEHOLDERS: dict[str, frozenset[str]] = {
    name: _EXPAND | _EXPAND_3_3_10 | extras for name, extras in _EXTRAS.items()
}
# The rejection notice is not expand()ed: chains/reject.py hands it to flufl.i18n
# with these two alone ($listname being the list's display name).
PLACEHOLDERS["list:user:notice:rejected"] = frozenset({"listname", "reasons"})
"""Per template name, every `$placeholder` Mailman 3.3.8 to 3.3.10 fills in."""

PLACEHOLDERS_SINCE: dict[str, tuple[int, int, int]] = {
    **dict.fromkeys(_EXPAND_3_3_10, BASE_URL_SINCE),
    "user_name_or_email": (3, 3, 10),  # 3.3.8 and 3.3.9 leave it as written (a bug)
}
"""Placeholders older releases leave in the text as written."""

BASE_URL_PLACEHOLDERS = _EXPAND_3_3_10
"""Filled in only when the list's domain has a `base_url` (expand() in 3.3.10): Mailman
leaves them as written for a domain without one."""


def domain_base_url(web_root: str) -> str:
    """The `base_url` of the site's Mailman domain: Postorius' root below the site's web
    URL. Mailman's `[urlpatterns]` (schema.cfg) build `$mailinglist_url` and the others on
    it (`$base_url/lists/$list_id`), the paths of `listsync render`'s Postorius links."""
    return f"{web_root.rstrip('/')}/postorius"


def size_problem(size: int) -> str | None:
    """Why a text of `size` bytes cannot be a template, or None."""
    if size <= MAX_TEXT_BYTES:
        return None
    return (
        f"{size} bytes, over the limit of {MAX_TEXT_BYTES // 1024} KiB ({MAX_TEXT_BYTES} bytes)"
        " that apply fetches of a published text to check it: make it shorter"
    )


# string.Template's syntax, which expand() uses through safe_substitute: an unknown
# placeholder is left in the text as written.
_PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?P<braced>[^}]*)\}|)", re.I
)


@dataclass(frozen=True, slots=True)
class TextProblem:
    """A finding in a template text, at a 1-based line and column of it."""

    line: int
    col: int
    message: str


@dataclass(frozen=True, slots=True)
class TemplateText:
    """One template file of the site: its path below the site root, and its text."""

    path: str
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def published_name(self) -> str:
        """`templates/footer-tor.txt` -> `footer-tor.<first 16 hex digits of its hash>.txt`."""
        pure = PurePosixPath(self.path)
        return f"{pure.stem}.{self.digest[:16]}{pure.suffix or '.txt'}"

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{self.published_name}"


def check_path(path: str) -> str | None:
    """Why `path` cannot name a template file of the site, or None."""
    pure = PurePosixPath(path)
    if "\\" in path or pure.is_absolute() or ".." in pure.parts:
        return f"{path!r} is not a path below the site root (no '..', no leading '/')"
    if len(pure.parts) < 2 or pure.parts[0] != TEMPLATES_DIR:
        return f"{path!r} is not in {TEMPLATES_DIR}/: template texts live there"
    return None


def decode(raw: bytes) -> tuple[str | None, TextProblem | None]:
    """The text of a template file, or where it is not UTF-8."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        return None, TextProblem(line, col, f"not valid UTF-8 (byte 0x{bad})")


def placeholders_in(text: str, wanted: frozenset[str]) -> list[tuple[TextProblem, str]]:
    """Where `text` uses one of the `wanted` placeholders: (its place, its name)."""
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _PLACEHOLDER.finditer(line):
            placeholder = match["named"] or match["braced"]
            if not match["escaped"] and placeholder in wanted:
                found.append((TextProblem(number, match.start() + 1, ""), placeholder))
    return found


def check_text(
    name: str, text: str, release: tuple[int, int, int] | None = None
) -> list[TextProblem]:
    """Placeholders Mailman would leave in `text` as written when it sends template `name`
    (on Mailman `release`, when given: some came in later releases)."""
    known = PLACEHOLDERS[name]
    if release is not None:
        known = frozenset(p for p in known if PLACEHOLDERS_SINCE.get(p, release) <= release)
    problems: list[TextProblem] = []
    # Lines end at "\n" alone, as in an editor and in `decode`: str.splitlines() would also
    # break at a form feed, U+2028, ..., and name a line the file does not have.
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _PLACEHOLDER.finditer(line):
            if match["escaped"]:
                continue
            placeholder = match["named"] or match["braced"]
            if placeholder is None or not re.fullmatch(r"[_a-z][_a-z0-9]*", placeholder, re.I):
                message = "a lone '$' is sent as is; write '$$' for a dollar sign"
            elif placeholder in known:
                continue
            else:
                close = difflib.get_close_matches(placeholder, sorted(known), n=1, cutoff=0.75)
                guess = f" (did you mean ${close[0]}?)" if close else ""
                message = (
                    f"${placeholder} is not a placeholder Mailman fills in {name}{guess}; it"
                    f" would be sent as is (known: {', '.join('$' + p for p in sorted(known))};"
                    " '$$' is a dollar sign)"
                )
            problems.append(TextProblem(number, match.start() + 1, message))
    return problems


# -- publishing and fetching --------------------------------------------------------


def publish(texts: Iterable[TemplateText], out: Path) -> list[Path]:
    """Write every text under its published name in `out` (created); the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for text in texts:
        target = out / text.published_name
        if text.published_name not in written:
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(text.text.encode())
            tmp.replace(target)
            written[text.published_name] = target
    return sorted(written.values())


class NotServedError(Exception):
    """A URL that does not serve the text it should, as Mailman would fetch it."""


# What Mailman sends when its fetch of a template fails (mailman/model/template.py).
SENDS_EMPTY = "Mailman sends an empty text in its place"
SENDS_DEFAULT = "Mailman sends its own default text instead"
SENDS_NOTHING = "Mailman cannot send the mail that needs it"


def _http_error(url: str, status: int) -> NotServedError:
    effect = SENDS_EMPTY if status == 404 else SENDS_DEFAULT
    return NotServedError(f"{url} answers HTTP {status} ({effect})")


def fetch(url: str, session: requests.Session | None = None) -> str:
    """The text at `url` as Mailman reads it (`requests.get(url).text`); `NotServedError`
    when it does not answer 200 with at most `MAX_TEXT_BYTES`."""
    import requests
    import urllib3

    getter = session or requests
    try:
        response = getter.get(url, timeout=FETCH_TIMEOUT, stream=True)
        with response:
            if response.status_code != 200:
                raise _http_error(url, response.status_code)
            raw = response.raw.read(MAX_TEXT_BYTES + 1, decode_content=True)
            if len(raw) > MAX_TEXT_BYTES:
                raise NotServedError(f"{url} is larger than {MAX_TEXT_BYTES // 1024} KiB")
            response._content = raw  # what .text decodes, with the server's charset
            return response.text
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        slow = isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError)
        why = f"no answer within {FETCH_TIMEOUT:g} s" if slow else "no answer"
        raise NotServedError(f"{why} from {url} ({type(exc).__name__}; {SENDS_NOTHING})") from None


def check_served(url: str, expected: str, session: requests.Session | None = None) -> None:
    """Fail unless `url` serves `expected` exactly as Mailman will read it."""
    served = fetch(url, session)
    if served == expected:
        return
    if served.encode("latin-1", "replace") == expected.encode("utf-8", "replace"):
        raise _without_charset(url)
    raise NotServedError(f"{url} serves another text than the repository's")


def _without_charset(url: str) -> NotServedError:
    return NotServedError(
        f"{url} is served without 'charset=utf-8' in its Content-Type, so Mailman would"
        " read its non-ASCII characters wrongly: serve .txt files as text/plain; charset=utf-8"
    )


def check_fetchable(url: str) -> None:
    """Fail unless Mailman can fetch `url` and read it right, its text unknown here: it
    answers 200 in time, and a text that is not ASCII comes with a charset (a UTF-8 text
    read as ISO-8859-1 is garbled)."""
    served = fetch(url)
    try:
        raw = served.encode("latin-1")
    except UnicodeEncodeError:
        return  # decoded with a charset of the server's: what Mailman reads
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return  # a Latin-1 text, read as one
        raise _without_charset(url)


def check_urls(expected: Mapping[str, str | None]) -> dict[str, str]:
    """URL -> why Mailman could not fetch it right, for each URL of `expected` that fails:
    `check_served` where its text is known, `check_fetchable` where it is None. Each URL is
    fetched once, `CHECK_WORKERS` at a time."""

    def verdict(url: str) -> str | None:
        text = expected[url]
        try:
            if text is None:
                check_fetchable(url)
            else:
                check_served(url, text)
        except NotServedError as exc:
            return str(exc)
        return None

    urls = sorted(expected)
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=CHECK_WORKERS) as pool:
        verdicts = list(pool.map(verdict, urls))
    return {url: why for url, why in zip(urls, verdicts, strict=True) if why is not None}


def texts_of(versions: Iterable[tuple[str, bytes]]) -> list[TemplateText]:
    """The (path, content) versions that are UTF-8 text, as `TemplateText`s."""
    texts = []
    for path, raw in versions:
        text, _ = decode(raw)
        if text is not None:
            texts.append(TemplateText(path, text))
    return texts


def known_texts(texts: Iterable[TemplateText], base: str | None) -> Mapping[str, str]:
    """URL -> text for every text published below `base`."""
    if base is None:
        return {}
    return {text.url(base): text.text for text in texts}
