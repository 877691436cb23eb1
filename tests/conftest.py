"""Shared pytest fixtures.

Mailman: the suite runs against a real GNU Mailman core 3.3.10 (see
``tools/mailman_core.py``), installed once into ``<repo>/.mailman/`` (or
``$LISTSYNC_MAILMAN_HOME``) and started fresh for each test session on
127.0.0.1 with its own SQLite database under pytest's tmp directory.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailmanclient import Client

from helpers import Result, Run
from listsync.cli import main
from mailman_core import CoreError, MailmanCore, install
from proxy import Proxy, recording_proxy

REPO_ROOT = Path(__file__).resolve().parents[1]


# -- Mailman core ---------------------------------------------------------------


@pytest.fixture(scope="session")
def mailman_home() -> Path:
    """Directory holding the installed core (``venv/``); installs it on first use."""
    home = Path(os.environ.get("LISTSYNC_MAILMAN_HOME") or REPO_ROOT / ".mailman")
    try:
        install(home)
    except CoreError as exc:
        pytest.fail(f"cannot install Mailman core into {home}: {exc}", pytrace=False)
    return home


@pytest.fixture(scope="session")
def mailman_core(
    mailman_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailmanCore]:
    """A running core for the whole session, stopped at the end."""
    core = MailmanCore(mailman_home, tmp_path_factory.mktemp("mailman-core"))
    try:
        core.start()
    except CoreError as exc:
        pytest.fail(f"cannot start Mailman core: {exc}", pytrace=False)
    try:
        yield core
    finally:
        core.stop()


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
def connected(monkeypatch: pytest.MonkeyPatch, mailman_core: MailmanCore, proxy: Proxy) -> Proxy:
    """listsync's environment points at the core through the recording proxy."""
    monkeypatch.setenv("MAILMAN_REST_URL", proxy.url)
    monkeypatch.setenv("MAILMAN_REST_USER", mailman_core.user)
    monkeypatch.setenv("MAILMAN_REST_PASSWORD", mailman_core.password)
    return proxy


@pytest.fixture(scope="session")
def mailman_client(mailman_core: MailmanCore) -> Client:
    """A mailmanclient ``Client`` logged in to the session's core."""
    return Client(mailman_core.url, mailman_core.user, mailman_core.password)


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
