"""Knowing the server: its Mailman release decides which files it can take; not-Mailman is an error.

A file that asks for a setting or value the live release lacks fails `plan`
and `apply` before any write, with its file:LINE:COL, the setting and the
server's version. A URL that does not answer like Mailman's REST API 3.1 is
one clear error, never a plan.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import Result, Run, StartCore, write_site
from listsync import mailman_settings
from listsync.mailman import NotMailmanError, server_info
from mailman_core import MailmanCore
from proxy import Proxy, recording_proxy

BOOKWORM = "3.3.8"


@pytest.fixture(scope="module")
def bookworm_core(start_core: StartCore) -> Iterator[MailmanCore]:
    """Mailman 3.3.8 with Debian bookworm's libraries, as the Tor Project runs it."""
    core = start_core(version=BOOKWORM)
    try:
        yield core
    finally:
        core.stop()


def connect(monkeypatch: pytest.MonkeyPatch, core: MailmanCore, url: str, tmp: Path) -> None:
    monkeypatch.setenv("MAILMAN_REST_URL", url)
    monkeypatch.setenv("MAILMAN_REST_USER", core.user)
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", core.password)
    monkeypatch.setenv("LISTSYNC_LOCK_FILE", str(tmp / "apply.lock"))


def site_with(root: Path, domain: str, settings: str) -> Path:
    return write_site(
        root,
        {
            "plain": "owners: [alice@example.org]\n",
            "bots": f"owners: [alice@example.org]\nsettings:\n{settings}",
        },
        config=f"domain: {domain}\n",
    )


NEWER_SETTINGS = [
    pytest.param(
        "  dmarc_addresses: [^.*@example\\.com$]\n",
        "lists/bots.yaml:3:3: settings.dmarc_addresses: Mailman 3.3.8 (this server) has no"
        " setting dmarc_addresses; it came in 3.3.9",
        id="dmarc_addresses",
    ),
    pytest.param(
        "  max_message_size: 100\n  accept_these_nonmembers: ['@announce@example.org']\n",
        "lists/bots.yaml:4:3: settings.accept_these_nonmembers: Mailman 3.3.8 (this server) does"
        " not take @list entries such as '@announce@example.org' in accept_these_nonmembers;"
        " they came in 3.3.10",
        id="at-list",
    ),
]


@pytest.mark.parametrize(("settings", "message"), NEWER_SETTINGS)
def test_a_newer_setting_is_refused_by_an_older_server_before_any_write(
    run: Run,
    tmp_path: Path,
    domain: str,
    bookworm_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
    settings: str,
    message: str,
) -> None:
    site = site_with(tmp_path / "site", domain, settings)
    assert run("--root", str(site), "validate").status == 0, "valid for the newest release"
    with recording_proxy(bookworm_core.url) as proxy:
        connect(monkeypatch, bookworm_core, proxy.url, tmp_path)
        for command in (("plan",), ("apply", "--yes")):
            result = run("--root", str(site), *command)
            assert result.status == 1
            assert message in result.out
            assert "error: 1 error(s) in the site's files for GNU Mailman 3.3.8" in result.err
            assert "nothing was written to Mailman" in result.err
        assert proxy.recorder.writes == []
        assert proxy.recorder.reads == [("GET", "/3.1/system/versions")] * 2


@pytest.mark.parametrize(("settings", "message"), NEWER_SETTINGS)
def test_the_current_release_takes_what_3_3_8_refuses(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, settings: str, message: str
) -> None:
    site = site_with(tmp_path / "site", domain, settings)
    assert run("--root", str(site), "apply", "--yes").status == 0
    again = run("--root", str(site), "plan", "--detailed-exitcode")
    assert again.status == 0, again.out


def test_the_server_is_asked_once_per_run(
    run: Run, tmp_path: Path, domain: str, connected: Proxy
) -> None:
    site = site_with(tmp_path / "site", domain, "  max_message_size: 100\n")
    assert run("--root", str(site), "apply", "--yes").status == 0
    versions = [r for r in connected.recorder.requests if r[1].endswith("/system/versions")]
    assert versions == [("GET", "/3.1/system/versions")]


def refused_everywhere(run: Run, site: Path, expected: str, proxy: Proxy) -> list[Result]:
    results = [
        run("--root", str(site), *command)
        for command in (("plan",), ("apply", "--yes"), ("import",))
    ]
    for result in results:
        assert result.status == 1
        assert result.out == ""
        assert result.err.strip().splitlines() == [expected]
    assert proxy.recorder.writes == []
    return results


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (
            lambda url: url.removesuffix("/3.1"),
            "but system/versions answered: 404 Not Found (HTTP 404)",
        ),
        (
            lambda url: url.replace("/3.1", "/3.0"),
            "but this URL serves API version '3.0'",
        ),
    ],
    ids=["no-api-version", "api-3.0"],
)
def test_a_url_that_is_not_the_api_3_1_is_one_clear_error(
    run: Run,
    tmp_path: Path,
    domain: str,
    mailman_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
    spoil: Callable[[str], str],
    says: str,
) -> None:
    site = site_with(tmp_path / "site", domain, "  max_message_size: 100\n")
    with recording_proxy(spoil(mailman_core.url)) as proxy:
        connect(monkeypatch, mailman_core, proxy.url, tmp_path)
        refused_everywhere(
            run,
            site,
            f"error: expected Mailman's REST API 3.1 at {proxy.url} (a URL such as"
            f" http://localhost:8001/3.1), {says}",
            proxy,
        )
        assert len(proxy.recorder.requests) == 3, "one GET system/versions per command"


@contextmanager
def serving(answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A web server on loopback that answers every GET with `answer`; gives its /3.1 URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer(self)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/3.1"
    finally:
        server.shutdown()
        server.server_close()


def html_page(handler: http.server.BaseHTTPRequestHandler) -> None:
    body = b"<html><body>It works!</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def moved_elsewhere(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(301)
    handler.send_header("Location", f"https://mailman.example/elsewhere{handler.path}")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """listsync's environment names `url` as the REST API, with some credentials."""
    monkeypatch.setenv("MAILMAN_REST_URL", url)
    monkeypatch.setenv("MAILMAN_REST_USER", "restadmin")
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", "secret-value")


@pytest.fixture
def web_page() -> Iterator[str]:
    """Some other web server on loopback: every GET answers 200 with an HTML page."""
    with serving(html_page) as url:
        yield url


@pytest.fixture
def redirecting() -> Iterator[str]:
    """A web server on loopback that sends every request elsewhere with a 301."""
    with serving(moved_elsewhere) as url:
        yield url


def test_a_web_server_that_is_not_mailman_is_one_clear_error(
    run: Run, tmp_path: Path, domain: str, web_page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_with(tmp_path / "site", domain, "  max_message_size: 100\n")
    point_at(monkeypatch, web_page)
    for command in (("plan",), ("apply", "--yes"), ("import",)):
        result = run("--root", str(site), *command)
        assert result.status == 1
        assert result.err.startswith(f"error: expected Mailman's REST API 3.1 at {web_page} (")
        assert "but system/versions did not answer as Mailman does" in result.err
        assert len(result.err.strip().splitlines()) == 1


# -- the catalogue by release, without a server -------------------------------------


@pytest.mark.parametrize(
    ("release", "dmarc_addresses", "at_list"),
    [((3, 3, 8), False, False), ((3, 3, 9), True, False), ((3, 3, 10), True, True)],
)
def test_what_each_release_takes(
    release: tuple[int, int, int], dmarc_addresses: bool, at_list: bool
) -> None:
    assert (mailman_settings.unsupported("dmarc_addresses", [], release) is None) is (
        dmarc_addresses
    )
    at = ["@team@example.org", "bot@example.org"]
    assert (mailman_settings.unsupported("accept_these_nonmembers", at, release) is None) is at_list
    plain = ["bot@example.org", "^.*@example\\.org$"]
    assert mailman_settings.unsupported("accept_these_nonmembers", plain, release) is None
    assert mailman_settings.unsupported("max_message_size", 100, release) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mailman_version": "GNU Mailman 3.3.8 (Tom Sawyer)", "api_version": "3.1"}, None),
        ({"mailman_version": "GNU Mailman 3.3.8 (Tom Sawyer)"}, "serves API version None"),
        ({"mailman_version": "Postfix 3.7", "api_version": "3.1"}, "it says it is 'Postfix 3.7'"),
        ("<html>", "did not answer as Mailman does"),
        ({"version": "3.3.8"}, "did not answer as Mailman does"),
    ],
)
def test_the_versions_answer_is_checked(body: object, message: str | None) -> None:
    if message is None:
        info = server_info(body, "http://localhost:8001/3.1")
        assert (info.version, info.release, info.tested) == ((3, 3, 8), "3.3.8", True)
        return
    with pytest.raises(NotMailmanError, match=message):
        server_info(body, "http://localhost:8001/3.1")


def test_a_proxy_in_the_environment_carries_the_requests_unless_no_proxy_says_not(
    run: Run,
    tmp_path: Path,
    domain: str,
    mailman_core: MailmanCore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY and NO_PROXY mean what they mean to requests: the whole URL goes to
    the proxy, which forwards it to the core; a host NO_PROXY names is reached directly."""
    site = site_with(tmp_path / "site", domain, "  max_message_size: 100\n")
    connect(monkeypatch, mailman_core, mailman_core.url, tmp_path)
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with recording_proxy(mailman_core.url) as forward:
        monkeypatch.setenv("HTTP_PROXY", forward.url.removesuffix("/3.1"))
        assert run("--root", str(site), "apply", "--yes").status == 0
        sent = forward.recorder.requests
        assert ("GET", f"{mailman_core.url}/system/versions") in sent
        assert ("POST", f"{mailman_core.url}/lists") in sent
        assert all(path.startswith(f"{mailman_core.url}/") for _, path in sent)

        forward.recorder.clear()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert run("--root", str(site), "plan").status == 0
        assert forward.recorder.requests == []

        monkeypatch.delenv("NO_PROXY")
        with_userinfo = mailman_core.url.replace("://", f"://restadmin:{mailman_core.password}@")
        monkeypatch.setenv("MAILMAN_REST_URL", with_userinfo)
        assert run("--root", str(site), "plan").status == 0
        assert ("GET", f"{mailman_core.url}/system/versions") in forward.recorder.requests
        assert not [path for _, path in forward.recorder.requests if "@127.0.0.1" in path]


def test_a_redirect_is_not_followed_and_says_where_it_points(
    run: Run, tmp_path: Path, domain: str, redirecting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_with(tmp_path / "site", domain, "  max_message_size: 100\n")
    point_at(monkeypatch, redirecting)
    result = run("--root", str(site), "plan")
    assert result.status == 1
    assert result.err.strip().splitlines() == [
        f"error: expected Mailman's REST API 3.1 at {redirecting}"
        " (a URL such as http://localhost:8001/3.1), but system/versions answered: redirected"
        " to 'https://mailman.example/elsewhere/3.1/system/versions'; set MAILMAN_REST_URL to"
        " the REST API's own address (HTTP 301)"
    ]
