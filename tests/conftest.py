"""Shared pytest fixtures, and the line between the fast tier and the rest.

Mailman: the suite runs against real GNU Mailman cores (see
``tools/mailman_core.py``) shaped like our users' servers: by default
Mailman 3.3.10 on PostgreSQL with Mailman's stock two REST workers.
``LISTSYNC_TEST_MAILMAN`` (3.3.8, 3.3.9, 3.3.10), ``LISTSYNC_TEST_DATABASE``
(postgresql, sqlite) and ``LISTSYNC_TEST_WORKERS`` choose another shape; the
cores are installed once into ``<repo>/.mailman/`` (or
``$LISTSYNC_MAILMAN_HOME``) and started fresh for each test session on
127.0.0.1, each with a database of its own (in the session's own PostgreSQL
cluster, or SQLite under pytest's tmp directory).

tests/unit/ is the fast tier (`scripts/test --fast`): pure tests that need
no Mailman core, no PostgreSQL and no network. A test there that asks for a
fixture starting a server is refused at collection, and one that opens a
connection or resolves a name fails.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ldap_server import LdapServer, LdapServerError
from mail import SmtpSink
from mailmanclient import Client
from webserver import TextServer

from helpers import Result, Run, StartCore, connect
from listsync.cli import main
from mailman_core import DEFAULT_VERSION, STOCK_WORKERS, VERSIONS, CoreError, MailmanCore, install
from postgres_cluster import ClusterError, PostgresCluster
from proxy import Proxy, recording_proxy

REPO_ROOT = Path(__file__).resolve().parents[1]
UNIT_TESTS = REPO_ROOT / "tests" / "unit"
SERVER_FIXTURES = frozenset({"mailman_home", "start_core", "smtp_sink", "ldap_server"})
"""Every Mailman core, PostgreSQL cluster, mail and LDAP server of a session comes from these."""


# -- the fast tier ---------------------------------------------------------------


def _is_unit(item: pytest.Item) -> bool:
    return item.path.is_relative_to(UNIT_TESTS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        servers = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if _is_unit(item) and servers:
            raise pytest.UsageError(
                f"{item.nodeid} asks for {', '.join(sorted(servers))}: tests/unit/ runs"
                " without Mailman, PostgreSQL or network; put the test in tests/"
            )


def _offline(*args: object, **kwargs: object) -> None:
    asked = [arg for arg in args if not isinstance(arg, socket.socket)]
    raise AssertionError(f"a unit test used the network {asked}: tests/unit/ runs offline")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    if not _is_unit(item):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _offline)
        patch.setattr(socket.socket, "connect_ex", _offline)
        patch.setattr(socket, "getaddrinfo", _offline)
        yield


# -- Mailman core ---------------------------------------------------------------


@dataclass(frozen=True)
class CoreShape:
    """The Mailman release, database and REST worker count the suite runs against."""

    version: str
    database: str
    workers: int

    @classmethod
    def from_env(cls) -> CoreShape:
        shape = cls(
            os.environ.get("LISTSYNC_TEST_MAILMAN") or DEFAULT_VERSION,
            os.environ.get("LISTSYNC_TEST_DATABASE") or "postgresql",
            int(os.environ.get("LISTSYNC_TEST_WORKERS") or STOCK_WORKERS),
        )
        if shape.version not in VERSIONS or shape.database not in ("postgresql", "sqlite"):
            raise pytest.UsageError(f"no such core shape: {shape}")
        return shape

    def __str__(self) -> str:
        return f"GNU Mailman {self.version}, {self.database}, {self.workers} REST worker(s)"


SHAPE = CoreShape.from_env()


@pytest.fixture(autouse=True, scope="session")
def valid_files_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """listsync's cache of files found valid: the session's own, never the user's."""
    directory = tmp_path_factory.mktemp("valid-files")
    before = os.environ.get("LISTSYNC_CACHE_DIR")
    os.environ["LISTSYNC_CACHE_DIR"] = str(directory)
    yield directory
    if before is None:
        del os.environ["LISTSYNC_CACHE_DIR"]
    else:
        os.environ["LISTSYNC_CACHE_DIR"] = before


def pytest_report_header() -> str:
    return f"mailman core: {SHAPE}"


@pytest.fixture(scope="session")
def core_shape() -> CoreShape:
    return SHAPE


@pytest.fixture(scope="session")
def mailman_home() -> Path:
    """Directory holding the installed cores (``VERSION/venv/``); installs on first use."""
    home = Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO_ROOT / ".mailman")
    try:
        install(home, SHAPE.version)
    except CoreError as exc:
        pytest.fail(f"cannot install Mailman core into {home}: {exc}", pytrace=False)
    return home


@pytest.fixture(scope="session")
def start_core(mailman_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartCore]:
    """Start a core of the session's shape (or another `version`, `workers` or `database`).

    Each core gets a new database: on PostgreSQL, in the session's own cluster
    on 127.0.0.1, started with the first core that needs it. Every core still
    running is stopped at the end of the session (stop one earlier with its
    own stop()), then the cluster.
    """
    started: list[MailmanCore] = []
    numbers = itertools.count(1)
    clusters: list[PostgresCluster] = []

    def new_database(name: str) -> str:
        try:
            if not clusters:
                clusters.append(PostgresCluster().start())
            return clusters[0].create_database(name)
        except ClusterError as exc:
            pytest.fail(f"cannot start PostgreSQL: {exc}", pytrace=False)

    def start(
        *,
        version: str | None = None,
        workers: int | None = None,
        database: str | None = None,
        smtp_port: int | None = None,
    ) -> MailmanCore:
        number = next(numbers)
        if version is not None and version != SHAPE.version:
            try:
                install(mailman_home, version)
            except CoreError as exc:
                pytest.fail(f"cannot install Mailman core {version}: {exc}", pytrace=False)
        database_url = None
        if (database or SHAPE.database) == "postgresql":
            database_url = new_database(f"mailman_{number}")
        core = MailmanCore(
            mailman_home,
            tmp_path_factory.mktemp(f"mailman-core-{number}"),
            version=version or SHAPE.version,
            workers=workers or SHAPE.workers,
            database_url=database_url,
            smtp_port=smtp_port,
        )
        started.append(core)
        try:
            return core.start()
        except CoreError as exc:
            pytest.fail(f"cannot start Mailman core ({core!r}): {exc}", pytrace=False)

    try:
        yield start
    finally:
        for core in started:
            core.stop()
        for cluster in clusters:
            cluster.stop()


@pytest.fixture(scope="session")
def mailman_core(start_core: StartCore) -> MailmanCore:
    """A running core of the session's shape for the whole session."""
    return start_core()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP server on 127.0.0.1 keeping what Mailman delivers."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    """An OpenLDAP slapd on 127.0.0.1 serving `ldap_server.GROUPS`, for the whole session."""
    server = LdapServer(tmp_path_factory.mktemp("slapd"))
    try:
        server.start()
    except LdapServerError as exc:
        pytest.fail(f"cannot start slapd: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mail_core(start_core: StartCore, smtp_sink: SmtpSink) -> MailmanCore:
    """A core of the session's shape that takes mail over LMTP and delivers to `smtp_sink`."""
    return start_core(smtp_port=smtp_sink.port)


@pytest.fixture
def mail_client(mail_core: MailmanCore) -> Client:
    """A mailmanclient ``Client`` logged in to the core that takes mail."""
    return Client(mail_core.url, mail_core.user, mail_core.password)


@pytest.fixture
def through_proxy(
    mail_core: MailmanCore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Proxy]:
    """listsync's environment points at the core that takes mail, through a recording proxy."""
    with recording_proxy(mail_core.url) as proxy:
        connect(monkeypatch, mail_core, proxy.url, lock_dir=tmp_path)
        yield proxy


@pytest.fixture(scope="session")
def mailman_client(mailman_core: MailmanCore) -> Client:
    """A mailmanclient ``Client`` logged in to the session's core."""
    return Client(mailman_core.url, mailman_core.user, mailman_core.password)


@pytest.fixture
def domain(request: pytest.FixtureRequest) -> str:
    """A domain of the test's own, so tests sharing the core never see each other's lists."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    return f"{slug}.example.org"


@pytest.fixture
def proxy(mailman_core: MailmanCore) -> Iterator[Proxy]:
    """A recording proxy in front of the session's core."""
    with recording_proxy(mailman_core.url) as running:
        yield running


@pytest.fixture
def connected(
    monkeypatch: pytest.MonkeyPatch, mailman_core: MailmanCore, proxy: Proxy, tmp_path: Path
) -> Proxy:
    """listsync's environment points at the core through the recording proxy.

    The apply lock is the test's own, so a test holding it blocks no other.
    """
    connect(monkeypatch, mailman_core, proxy.url, lock_dir=tmp_path)
    return proxy


@pytest.fixture
def core_env(monkeypatch: pytest.MonkeyPatch, mailman_core: MailmanCore, tmp_path: Path) -> None:
    """listsync's environment points straight at the session's core, with no proxy between."""
    connect(monkeypatch, mailman_core, lock_dir=tmp_path)


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[TextServer]:
    """A static server on 127.0.0.1 for a site's published template texts."""
    with TextServer(tmp_path / "public" / "templates") as server:
        yield server


# -- the CLI -------------------------------------------------------------------


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `listsync ARGS...` in-process; returns its exit status and output."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        status = main(list(args))
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return invoke


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
