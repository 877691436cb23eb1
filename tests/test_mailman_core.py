"""The Mailman core harness (tools/mailman_core.py) against a real core."""

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
from mailman_core import MailmanCore, rest_get

TOOL = Path(harness.__file__).resolve()


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_rest_reports_mailman_3_3(mailman_core: MailmanCore) -> None:
    status, body = rest_get(
        f"{mailman_core.url}/system/versions", mailman_core.user, mailman_core.password
    )
    assert status == 200
    assert body["mailman_version"].startswith("GNU Mailman 3.3.")
    assert body["api_version"] == "3.1"


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


def test_install_is_idempotent(mailman_home: Path) -> None:
    marker = harness.venv_path(mailman_home) / ".listsync-requirements"
    before = marker.stat().st_mtime_ns
    assert harness.install(mailman_home) == harness.venv_path(mailman_home)
    assert harness.is_installed(mailman_home)
    assert marker.stat().st_mtime_ns == before


def test_own_core_starts_and_stops_cleanly(
    mailman_home: Path, mailman_core: MailmanCore, tmp_path: Path
) -> None:
    core = MailmanCore(mailman_home, tmp_path)
    with core:
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
    # __exit__ stopped it: master, runners and the REST port are gone.
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


def test_cli_runs_a_detached_core(mailman_home: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    started = _cli("start", "--home", str(mailman_home), "--run", str(run))
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
        assert "GNU Mailman 3.3." in status_cmd.stdout
        again = _cli("start", "--home", str(mailman_home), "--run", str(run))
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


def test_cli_start_without_install_fails_cleanly(tmp_path: Path) -> None:
    result = _cli("start", "--home", str(tmp_path / "none"), "--run", str(tmp_path / "run"))
    assert result.returncode == 1
    assert "no Mailman core installed" in result.stderr
    assert "Traceback" not in result.stderr
