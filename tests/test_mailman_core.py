"""The Mailman core harness (tools/mailman_core.py, postgres_cluster.py) against real cores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mailmanclient import Client

import mailman_core as harness
from helpers import StartCore
from mailman_core import MailmanCore, rest_get
from postgres_cluster import PostgresCluster

TOOL = Path(harness.__file__).resolve()


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_rest_reports_the_release_installed(mailman_core: MailmanCore) -> None:
    status, body = rest_get(
        f"{mailman_core.url}/system/versions", mailman_core.user, mailman_core.password
    )
    assert status == 200
    assert body["mailman_version"].startswith(f"GNU Mailman {mailman_core.version} ")
    assert body["api_version"] == "3.1"


def test_the_default_core_is_production_shaped(mailman_home: Path, tmp_path: Path) -> None:
    core = MailmanCore(mailman_home, tmp_path)
    assert (core.version, core.workers, core.database) == ("3.3.10", 2, "sqlite")
    assert harness.STOCK_WORKERS == 2


def test_session_core_runs_its_workers_on_postgresql(
    mailman_core: MailmanCore, mailman_client: Client
) -> None:
    assert mailman_core.pid is not None
    # master, the REST runner's gunicorn arbiter, and one process per worker
    assert len(harness.group_members(mailman_core.pid)) == 2 + mailman_core.workers
    sqlite_file = mailman_core.run_dir / "var" / "data" / "mailman.db"
    if mailman_core.database == "sqlite":  # LISTSYNC_TEST_DATABASE=sqlite
        assert mailman_core.database_url is None
        assert sqlite_file.is_file()
        return
    assert mailman_core.database_url is not None
    mail_host = f"pg{uuid.uuid4().hex[:12]}.example.org"
    mailman_client.create_domain(mail_host)
    # The domain is a row of the PostgreSQL database the core was given.
    rows = _psql(mailman_core.database_url, "SELECT mail_host FROM domain")
    assert mail_host in rows.split()
    assert not sqlite_file.exists()


def _psql(url: str, query: str) -> str:
    done = subprocess.run(
        ["psql", "--no-psqlrc", "--tuples-only", "--no-align", url, "--command", query],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return done.stdout


def test_postgres_cluster_starts_and_is_removed(tmp_path: Path) -> None:
    with PostgresCluster() as cluster:
        base = cluster.base
        assert base is not None
        assert cluster.is_running()
        url = cluster.create_database("scratch")
        assert url.startswith(f"postgresql://listsync:{cluster.password}@127.0.0.1:")
        assert _psql(url, "SELECT current_database()").strip() == "scratch"
        assert "127.0.0.1" in _psql(url, "SELECT inet_server_addr()")
        cluster.create_database("scratch")  # again: dropped and made anew
    assert not base.exists()
    assert _refuses_connections(cluster.port)


def test_wrong_password_is_refused(mailman_core: MailmanCore) -> None:
    url = f"{mailman_core.url}/system/versions"
    status, _ = rest_get(url, mailman_core.user, mailman_core.password + "x")
    assert status == 401
    status, _ = rest_get(url, "nobody", mailman_core.password)
    assert status == 401


def test_env_describes_the_core(mailman_core: MailmanCore) -> None:
    assert mailman_core.env() == {
        "MAILMAN_REST_URL": f"http://127.0.0.1:{mailman_core.port}/3.1",
        "MAILMAN_REST_USER": "restadmin",
        "MAILMAN_REST_PASSWORD": mailman_core.password,
    }
    assert len(mailman_core.password) >= 24


def test_created_domain_is_listed(mailman_client: Client) -> None:
    mail_host = f"d{uuid.uuid4().hex[:12]}.example.org"
    assert mail_host not in [d.mail_host for d in mailman_client.domains]
    mailman_client.create_domain(mail_host)
    try:
        assert mail_host in [d.mail_host for d in mailman_client.domains]
    finally:
        mailman_client.delete_domain(mail_host)
    assert mail_host not in [d.mail_host for d in mailman_client.domains]


def test_install_is_idempotent(mailman_home: Path, mailman_core: MailmanCore) -> None:
    version = mailman_core.version
    marker = harness.venv_path(mailman_home, version) / ".listsync-requirements"
    before = marker.stat().st_mtime_ns
    assert harness.install(mailman_home, version) == harness.venv_path(mailman_home, version)
    assert harness.is_installed(mailman_home, version)
    assert marker.stat().st_mtime_ns == before
    assert marker.read_text().splitlines() == list(harness.VERSIONS[version])


def test_own_core_starts_and_stops_cleanly(
    start_core: StartCore, mailman_core: MailmanCore
) -> None:
    core = start_core()
    try:
        pid, port = core.pid, core.port
        assert pid is not None
        assert core.is_running()
        assert port != mailman_core.port
        assert core.password != mailman_core.password
        status, _ = rest_get(f"{core.url}/system/versions", core.user, core.password)
        assert status == 200
        assert len(harness.group_members(pid)) >= 2  # master + REST runner
        # No gunicorn control socket in $HOME, shared by every core on the machine.
        runner_log = (core.run_dir / "var" / "logs" / "mailman.log").read_text()
        assert "Starting gunicorn" in runner_log
        assert "Control socket" not in runner_log
    finally:
        core.stop()
    # Master, runners and the REST port are gone.
    assert core.pid is None
    assert not core.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert harness.group_members(pid) == []
    assert _refuses_connections(port)
    core.stop()  # a second stop is harmless
    assert core.pid is None
    assert _refuses_connections(port)
    # The session's core is untouched.
    status, _ = rest_get(
        f"{mailman_core.url}/system/versions", mailman_core.user, mailman_core.password
    )
    assert status == 200


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_cli_runs_a_detached_core(
    mailman_home: Path, mailman_core: MailmanCore, tmp_path: Path, database: str
) -> None:
    run = tmp_path / "run"
    started = _cli(
        "start", "--home", str(mailman_home), "--run", str(run),
        "--version", mailman_core.version, "--database", database,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        env = harness.read_env(run)
        assert started.stdout == harness.export_lines(env)
        assert set(env) == {"MAILMAN_REST_URL", "MAILMAN_REST_USER", "MAILMAN_REST_PASSWORD"}
        pid = harness.read_pid(run)
        assert pid is not None
        # The command has exited; the core it started keeps answering.
        status, _ = rest_get(
            f"{env['MAILMAN_REST_URL']}/system/versions",
            env["MAILMAN_REST_USER"],
            env["MAILMAN_REST_PASSWORD"],
        )
        assert status == 200
        status_cmd = _cli("status", "--run", str(run))
        assert status_cmd.returncode == 0, status_cmd.stdout
        assert f"GNU Mailman {mailman_core.version} " in status_cmd.stdout
        assert f"2 REST worker(s), {database}" in started.stderr
        cluster_file = run / harness.POSTGRES_NAME
        assert cluster_file.is_file() == (database == "postgresql")
        cluster_dir = Path(cluster_file.read_text().strip()) if cluster_file.is_file() else None
        again = _cli(
            "start", "--home", str(mailman_home), "--run", str(run),
            "--version", mailman_core.version,
        )  # fmt: skip
        assert again.returncode == 1
        assert "still running" in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        stopped = _cli("stop", "--run", str(run))
    assert stopped.returncode == 0, stopped.stderr
    assert not harness.pid_alive(pid)
    assert harness.group_members(pid) == []
    port = int(env["MAILMAN_REST_URL"].split(":")[2].split("/")[0])
    assert _refuses_connections(port)
    assert _cli("status", "--run", str(run)).returncode == 1
    assert _cli("stop", "--run", str(run)).returncode == 0
    if cluster_dir is not None:
        assert not cluster_dir.exists(), "the core's PostgreSQL cluster is stopped and removed"


def test_cli_start_without_install_fails_cleanly(tmp_path: Path) -> None:
    result = _cli("start", "--home", str(tmp_path / "none"), "--run", str(tmp_path / "run"))
    assert result.returncode == 1
    assert "no Mailman core 3.3.10 installed" in result.stderr
    assert "Traceback" not in result.stderr
