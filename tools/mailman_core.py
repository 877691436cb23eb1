"""Install and run real GNU Mailman cores (3.3.8 to 3.3.10) on loopback, for tests and demos.

This module owns everything about the throwaway Mailman cores that listsync is
tested and demonstrated against, shaped like the servers our users run:

* ``install(home, version)`` puts one Mailman release, with the libraries it
  is known to run with (``VERSIONS``; 3.3.8 with Debian bookworm's), into its
  own virtualenv ``home/VERSION/venv``, separate from the project's
  environment.  It is idempotent: a marker file records the pinned
  requirements, and nothing is done when it matches.
* ``MailmanCore(home, run_dir, version=..., workers=..., database_url=...)``
  starts one core from that venv with its configuration and logs under
  ``run_dir``: Mailman's stock two REST workers unless told otherwise, SQLite
  in ``run_dir`` or the PostgreSQL database ``database_url`` names (see
  ``postgres_cluster``), REST API only (every other runner is off, the MTA is
  ``NullMTA``), bound to 127.0.0.1 on free ports, with a random REST
  password; with ``smtp_port=``, also the runners a post goes through (LMTP
  in on ``lmtp_port``, SMTP out to that port).  ``stop()`` ends the master
  and every runner it started.
* The command line (``install``, ``start``, ``stop``, ``status``) does the same
  from a shell; ``start`` leaves a detached core (and its PostgreSQL cluster,
  with ``--database postgresql``) running and records it in the run directory
  so that ``stop`` and ``status`` can find it later.

The master runs in the foreground of its own session (no ``mailman start``,
which forks), with its output going to a log file, never to a pipe.

Standard library only: this runs before any project dependency is installed.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from postgres_cluster import ClusterError, PostgresCluster

__all__ = [
    "DEFAULT_VERSION",
    "STOCK_WORKERS",
    "VERSIONS",
    "CoreError",
    "MailmanCore",
    "export_lines",
    "group_members",
    "install",
    "is_installed",
    "main",
    "pid_alive",
    "read_env",
    "read_pid",
    "rest_get",
    "start_detached",
    "stop_recorded",
    "venv_path",
]

#: What ``install`` puts into a core's virtualenv, by Mailman release.  Every
#: release gets psycopg2 so that it can run on PostgreSQL as sites do.
VERSIONS: dict[str, tuple[str, ...]] = {
    # SQLAlchemy 2.1 breaks 3.3.10; it caps neither falcon nor gunicorn, and
    # these are the releases it is tested with here.
    "3.3.10": (
        "mailman==3.3.10",
        "sqlalchemy<2.1",
        "falcon==4.4.0",
        "gunicorn==27.0.1",
        "psycopg2-binary==2.9.13",
    ),
    # With falcon >= 4, 3.3.8 and 3.3.9 answer a wrong password with 500, not 401.
    "3.3.9": (
        "mailman==3.3.9",
        "sqlalchemy<2.1",
        "falcon==3.1.3",
        "gunicorn==27.0.1",
        "psycopg2-binary==2.9.13",
    ),
    # Debian bookworm's mailman3 (the Tor Project's server) and its libraries.
    "3.3.8": (
        "mailman==3.3.8",
        "falcon==3.1.1",
        "SQLAlchemy==1.4.46",
        "gunicorn==20.1.0",
        "alembic==1.8.1",
        "psycopg2-binary==2.9.5",
        "importlib-resources==5.1.2",
    ),
}
DEFAULT_VERSION = "3.3.10"
#: Mailman's own default for ``[webservice] workers`` (mailman/config/schema.cfg),
#: kept by Debian's packages and docker-mailman.
STOCK_WORKERS = 2

#: REST user name of every core started here (the password is random).
REST_USER = "restadmin"

# Names inside a run directory.  ``start`` removes exactly these (and nothing
# else) left over from an earlier core, so that every core starts fresh.
CONFIG_NAME = "mailman.cfg"
LOG_NAME = "master.log"
PID_NAME = "core.pid"
ENV_NAME = "core.env"
POSTGRES_NAME = "postgres.dir"
_RUN_ENTRIES = ("var", "etc", CONFIG_NAME, LOG_NAME, PID_NAME, ENV_NAME, POSTGRES_NAME)

_MARKER_NAME = ".listsync-requirements"
_HAVE_PROCFS = Path("/proc/self/stat").exists()
# (3.3.8 starts nntp by default; 3.3.10 does not.)
_RUNNERS_OFF = (
    "archive", "bounces", "command", "digest", "in", "lmtp",
    "nntp", "out", "pipeline", "retry", "task", "virgin",
)  # fmt: skip
# With mail on, the runners a post goes through stay: lmtp, in, pipeline, out, virgin.
_MAIL_RUNNERS_OFF = ("archive", "bounces", "command", "digest", "nntp", "retry", "task")
# Options for the REST runner's gunicorn (replacing Mailman's own gunicorn.cfg).
# gunicorn >= 25.1, which mailman 3.3.10 happily installs, otherwise opens a
# control socket at $HOME/.gunicorn/gunicorn.ctl: one path shared by every core
# on the machine (older gunicorns ignore the unknown key: Mailman passes on
# only the settings the installed gunicorn has).  A shorter graceful_timeout
# keeps stop() well within bounds.
_GUNICORN_CONFIG = """\
[gunicorn]
timeout = 360
graceful_timeout = 10
control_socket_disable = true
"""
# Variables that would make the core's interpreter load the wrong code or config.
_ENV_DROP = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "MAILMAN_CONFIG_FILE")


class CoreError(RuntimeError):
    """An expected failure: installing, starting or stopping a core went wrong."""


# -- installing --------------------------------------------------------------


def _requirements(version: str) -> tuple[str, ...]:
    try:
        return VERSIONS[version]
    except KeyError:
        raise CoreError(f"no recipe for Mailman {version}; known: {', '.join(VERSIONS)}") from None


def venv_path(home: Path, version: str = DEFAULT_VERSION) -> Path:
    """The virtualenv that ``install(home, version)`` creates."""
    _requirements(version)
    return Path(home).absolute() / version / "venv"


def _marker_text(version: str) -> str:
    return "\n".join(_requirements(version)) + "\n"


def is_installed(home: Path, version: str = DEFAULT_VERSION) -> bool:
    """True when ``home/VERSION/venv`` holds a working install of that release's pins."""
    venv = venv_path(home, version)
    marker = venv / _MARKER_NAME
    return (
        (venv / "bin" / "python").exists()  # follows the symlink: base Python still there
        and (venv / "bin" / "master").is_file()
        and marker.is_file()
        and marker.read_text(encoding="utf-8") == _marker_text(version)
    )


def install(
    home: Path,
    version: str = DEFAULT_VERSION,
    *,
    python: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Make sure ``home/VERSION/venv`` has that Mailman release installed; return the venv.

    Does nothing when the marker file in the venv names exactly the release's
    requirements (``VERSIONS``); otherwise (re)creates the venv from scratch
    with ``python`` (default: the running interpreter) and pip-installs them,
    with pip's output in ``home/VERSION/install.log``.  Safe to call from
    several processes at once (a lock file serialises them).  Raises
    ``CoreError`` on failure.
    """
    say = log or (lambda _msg: None)
    requirements = _requirements(version)
    venv = venv_path(home, version)
    release_dir = venv.parent
    release_dir.mkdir(parents=True, exist_ok=True)
    with _locked(release_dir / ".install.lock"):
        if is_installed(home, version):
            say(f"Mailman core {version} already installed in {venv}")
            return venv
        install_log = release_dir / "install.log"
        say(f"installing {' '.join(requirements)} into {venv} (log: {install_log})")
        (venv / _MARKER_NAME).unlink(missing_ok=True)
        interpreter = python or sys.executable
        with install_log.open("w", encoding="utf-8") as out:
            _run_logged([interpreter, "-m", "venv", "--clear", str(venv)], out, install_log)
            _run_logged(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                 "--disable-pip-version-check", *requirements],
                out,
                install_log,
            )  # fmt: skip
        if not (venv / "bin" / "master").is_file():
            raise CoreError(f"pip finished but {venv / 'bin' / 'master'} is missing")
        (venv / _MARKER_NAME).write_text(_marker_text(version), encoding="utf-8")
        say(f"Mailman core {version} installed in {venv}")
        return venv


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(cmd: list[str], out: IO[str], log_path: Path) -> None:
    out.write(f"$ {shlex.join(cmd)}\n")
    out.flush()
    try:
        result = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=_clean_env(), check=False,
        )  # fmt: skip
    except OSError as exc:
        raise CoreError(f"cannot run {cmd[0]}: {exc}") from exc
    if result.returncode != 0:
        out.flush()
        raise CoreError(
            f"`{shlex.join(cmd)}` failed with exit code {result.returncode}; "
            f"end of {log_path}:\n{_tail(log_path)}"
        )


# -- small helpers -----------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in _ENV_DROP:
        env.pop(name, None)
    return env


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"({path} is not readable)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def rest_get(url: str, user: str, password: str, *, timeout: float = 5.0) -> tuple[int, Any]:
    """GET ``url`` with HTTP basic auth, ignoring any proxy settings.

    Returns ``(status, body)``: the body parsed as JSON when it is JSON, else
    the text.  HTTP errors are returned, not raised; network errors raise
    ``OSError`` (``urllib.error.URLError`` is one).
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    # S310: the scheme is checked just above.
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})  # noqa: S310
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            status: int = response.status
            raw: bytes = response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of ``pid`` from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[2])


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _HAVE_PROCFS:
        return True
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    if not _HAVE_PROCFS:  # ask the kernel; zombies count as members here
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] != "Z":
                members.append(int(entry.name))
    return members


def _is_our_master(pid: int, config: Path) -> bool:
    """True when ``pid`` is a Mailman master running with ``config``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid_alive(pid)  # no procfs: trust the pid file
    return str(config).encode() in cmdline and any(arg.endswith(b"master") for arg in cmdline)


def _terminate_group(pid: int, timeout: float, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM master ``pid`` (leader of its own group), SIGKILL the group if it lingers.

    Returns once no live process is left in the group; raises ``CoreError`` if
    even SIGKILL does not get there.
    """

    def drained(deadline: float) -> bool:
        while True:
            if reap is not None:
                reap()
            if not pid_alive(pid) and not group_members(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # master forwards it to its runners
    if drained(time.monotonic() + timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if not drained(time.monotonic() + 10):
        raise CoreError(f"Mailman master {pid} or its runners survived SIGKILL")


# -- running a core ----------------------------------------------------------


class MailmanCore:
    """One Mailman core: REST API on 127.0.0.1, config and logs in ``run_dir``.

    ``home`` is the directory given to ``install``; ``run_dir`` is where this
    core's config, logs and (without ``database_url``) SQLite database go
    (created if missing; whatever an earlier core left there is removed on
    ``start``, so each start is fresh).  ``database_url`` is a PostgreSQL
    database of its own (``PostgresCluster.create_database``): start() uses it
    as it is, so the caller hands each core a new one.

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        home: Path,
        run_dir: Path,
        *,
        version: str = DEFAULT_VERSION,
        workers: int = STOCK_WORKERS,
        database_url: str | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        smtp_port: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.home = Path(home).absolute()
        self.version = version
        self.venv = venv_path(self.home, version)
        self.run_dir = Path(run_dir).absolute()
        self.workers = workers
        self.database_url = database_url
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.user = REST_USER
        self.password = ""
        self.port = 0
        # Mail: None keeps the core to its REST API; a port turns on the runners a post
        # goes through, LMTP in on `lmtp_port` and SMTP out to 127.0.0.1:`smtp_port`.
        self.smtp_port = smtp_port
        self.lmtp_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    # paths and connection details

    @property
    def config_path(self) -> Path:
        return self.run_dir / CONFIG_NAME

    @property
    def gunicorn_config_path(self) -> Path:
        return self.run_dir / "etc" / "gunicorn.cfg"

    @property
    def log_path(self) -> Path:
        """The master's stdout and stderr; runner logs are in ``var/logs``."""
        return self.run_dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """The master's pid (also its process group) while started, else None."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        """Base URL of the REST API, e.g. ``http://127.0.0.1:PORT/3.1``."""
        if not self.port:
            raise CoreError("the core has not been started")
        return f"http://127.0.0.1:{self.port}/3.1"

    def env(self) -> dict[str, str]:
        """MAILMAN_REST_URL / _USER / _PASSWORD for a client of this core."""
        return {
            "MAILMAN_REST_URL": self.url,
            "MAILMAN_REST_USER": self.user,
            "MAILMAN_REST_PASSWORD": self.password,
        }

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # lifecycle

    def start(self) -> Self:
        """Write a fresh config and start the master; return once REST answers 200.

        Raises ``CoreError`` (with the end of the logs) when the core is not
        installed, the master exits, or REST does not answer in time.
        """
        if self._process is not None:
            raise CoreError(f"this core is already started (pid {self._process.pid})")
        master = self.venv / "bin" / "master"
        if not master.is_file():
            raise CoreError(f"no Mailman core installed in {self.home} (missing {master})")
        self._reset_run_dir()
        self.password = secrets.token_urlsafe(24)
        self.port = _free_port()
        self.lmtp_port = _free_port()
        (self.run_dir / "etc").mkdir()
        self.gunicorn_config_path.write_text(_GUNICORN_CONFIG, encoding="utf-8")
        self.config_path.write_text(self._config_text(), encoding="utf-8")
        self.config_path.chmod(0o600)
        return self._launch()

    def restart(self) -> Self:
        """Stop and start again with the same port, password and data (a server reboot)."""
        if not self.port:
            raise CoreError("the core has never been started")
        self.stop()
        return self._launch()

    def _launch(self) -> Self:
        master = self.venv / "bin" / "master"
        with self.log_path.open("ab") as log:
            try:
                self._process = subprocess.Popen(
                    [str(master), "-C", str(self.config_path), "--force"],
                    cwd=self.run_dir, env=_clean_env(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                raise CoreError(f"cannot run {master}: {exc}") from exc
        atexit.register(self.stop)  # safety net for a caller that forgets stop()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def detach(self) -> None:
        """Let this core outlive the Python process (``stop()`` still works)."""
        atexit.unregister(self.stop)

    def stop(self) -> None:
        """Stop the master and all its runners; harmless when already stopped."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        _terminate_group(process.pid, self.stop_timeout, reap=process.poll)
        process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def database(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return "sqlite" if self.database_url is None else "postgresql"

    def __repr__(self) -> str:
        state = f"pid {self.pid}, {self.url}" if self.is_running() else "stopped"
        shape = f"{self.version}, {self.database}, {self.workers} worker(s)"
        return f"<MailmanCore {shape} {self.run_dir} ({state})>"

    # internals

    def _reset_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        recorded = read_pid(self.run_dir)
        if recorded is not None and _is_our_master(recorded, self.config_path):
            raise CoreError(f"a core is still running in {self.run_dir} (pid {recorded})")
        for name in _RUN_ENTRIES:
            path = self.run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def _public_suffix_list(self) -> Path:
        found = sorted(self.venv.glob("lib/python*/site-packages/mailman/rules/data/*.dat"))
        if not found:
            raise CoreError(f"no public suffix list in the Mailman of {self.venv}")
        return found[0]

    def _config_text(self) -> str:
        var = self.run_dir / "var"
        etc = self.run_dir / "etc"
        lines = [
            "[mailman]",
            "layout: custom",
            "site_owner: listmaster@example.org",
            "",
            "[paths.custom]",
            f"var_dir: {var}",
            f"log_dir: {var / 'logs'}",
            f"lock_dir: {var / 'locks'}",
            f"etc_dir: {etc}",
            f"ext_dir: {etc / 'mailman.d'}",
            f"pid_file: {var / 'master.pid'}",
            "",
            "[database]",
            *(
                [
                    "class: mailman.database.sqlite.SQLiteDatabase",
                    f"url: sqlite:///{var / 'data' / 'mailman.db'}",
                ]
                if self.database_url is None
                else [
                    "class: mailman.database.postgresql.PostgreSQLDatabase",
                    f"url: {self.database_url}",
                ]
            ),
            "",
            "[mta]",
            "incoming: mailman.mta.null.NullMTA",
            "lmtp_host: 127.0.0.1",
            f"lmtp_port: {self.lmtp_port}",
            "smtp_host: 127.0.0.1",
            f"smtp_port: {self.smtp_port or _free_port()}",
            "",
            # The copy of the public suffix list Mailman ships, not publicsuffix.org:
            # cores have no network, and 3.3.8's DMARC rule shunts a post when the
            # download fails with no answer (3.3.10 falls back to this same copy).
            "[dmarc]",
            f"org_domain_data_url: {self._public_suffix_list().as_uri()}",
            "",
            "[webservice]",
            "hostname: 127.0.0.1",
            f"port: {self.port}",
            f"admin_user: {self.user}",
            f"admin_pass: {self.password}",
            f"workers: {self.workers}",
            f"configuration: {self.gunicorn_config_path}",
        ]
        for runner in _RUNNERS_OFF if self.smtp_port is None else _MAIL_RUNNERS_OFF:
            lines += ["", f"[runner.{runner}]", "start: no"]
        return "\n".join(lines) + "\n"

    def _wait_ready(self) -> None:
        assert self._process is not None
        versions = f"{self.url}/system/versions"
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while True:
            code = self._process.poll()
            if code is not None:
                raise CoreError(
                    f"Mailman master exited with code {code} during startup\n{self._log_tails()}"
                )
            try:
                status, _ = rest_get(versions, self.user, self.password, timeout=2.0)
            except OSError as exc:
                last = str(exc)
            else:
                # Ready once every REST worker has booted, not just the first.
                booted = len(group_members(self._process.pid))
                if status == 200 and (not _HAVE_PROCFS or booted >= 2 + self.workers):
                    if self.smtp_port is None or _accepts(self.lmtp_port):
                        return
                    booted = -1
                last = (
                    f"HTTP {status}, LMTP not listening yet"
                    if booted < 0
                    else f"HTTP {status}, {max(booted - 2, 0)} of {self.workers} worker(s) booted"
                )
            if time.monotonic() >= deadline:
                raise CoreError(
                    f"Mailman REST at {versions} not ready after {self.startup_timeout:g} s "
                    f"({last})\n{self._log_tails()}"
                )
            time.sleep(0.1)

    def _log_tails(self) -> str:
        mailman_log = self.run_dir / "var" / "logs" / "mailman.log"
        return (
            f"--- end of {self.log_path}:\n{_tail(self.log_path)}\n"
            f"--- end of {mailman_log}:\n{_tail(mailman_log)}"
        )


# -- a detached core, recorded in its run directory ----------------------------


def read_pid(run_dir: Path) -> int | None:
    """The master pid recorded by ``start`` in ``run_dir``, if any."""
    try:
        return int((Path(run_dir) / PID_NAME).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def read_env(run_dir: Path) -> dict[str, str]:
    """The MAILMAN_REST_* variables recorded by ``start`` in ``run_dir``."""
    env: dict[str, str] = {}
    text = (Path(run_dir) / ENV_NAME).read_text(encoding="utf-8")
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


def start_detached(
    home: Path,
    run_dir: Path,
    *,
    version: str = DEFAULT_VERSION,
    workers: int = STOCK_WORKERS,
    database: str = "sqlite",
) -> MailmanCore:
    """Start a core that outlives this process; record its pid and env in ``run_dir``.

    With ``database="postgresql"`` it gets a PostgreSQL cluster of its own,
    recorded in ``run_dir`` too and stopped with the core.
    """
    cluster = None
    database_url = None
    if database == "postgresql":
        try:
            cluster = PostgresCluster().start()
            database_url = cluster.create_database("mailman")
        except ClusterError as exc:
            if cluster is not None:
                cluster.stop()
            raise CoreError(f"PostgreSQL: {exc}") from exc
    elif database != "sqlite":
        raise CoreError(f"unknown database {database!r}: sqlite or postgresql")
    core = MailmanCore(home, run_dir, version=version, workers=workers, database_url=database_url)
    try:
        core.start()
    except BaseException:
        if cluster is not None:
            cluster.stop()
        raise
    core.detach()
    assert core.pid is not None
    if cluster is not None:
        assert cluster.base is not None
        cluster.detach()
        (core.run_dir / POSTGRES_NAME).write_text(f"{cluster.base}\n", encoding="utf-8")
    env_file = core.run_dir / ENV_NAME
    env_file.touch(mode=0o600)
    env_file.write_text(export_lines(core.env()), encoding="utf-8")
    (core.run_dir / PID_NAME).write_text(f"{core.pid}\n", encoding="ascii")
    return core


def stop_recorded(run_dir: Path, *, timeout: float = 30.0) -> int | None:
    """Stop the core ``start_detached`` recorded in ``run_dir``, and its PostgreSQL.

    Returns the pid that was stopped, or None when no core was running there.
    """
    run_dir = Path(run_dir).absolute()
    pid = read_pid(run_dir)
    stopped = None
    if pid is not None and _is_our_master(pid, run_dir / CONFIG_NAME):
        _terminate_group(pid, timeout)
        stopped = pid
    (run_dir / PID_NAME).unlink(missing_ok=True)
    postgres = run_dir / POSTGRES_NAME
    if postgres.is_file():
        PostgresCluster.recorded(Path(postgres.read_text(encoding="utf-8").strip())).stop()
        postgres.unlink()
    return stopped


# -- command line --------------------------------------------------------------


def _err(message: str) -> None:
    print(f"mailman_core: {message}", file=sys.stderr)


def _cmd_install(args: argparse.Namespace) -> int:
    for version in args.version or [DEFAULT_VERSION]:
        install(args.home, version, log=_err)
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    if not is_installed(args.home, args.version):
        raise CoreError(
            f"no Mailman core {args.version} installed in {args.home}; run: python"
            f" {sys.argv[0]} install --home {shlex.quote(str(args.home))} --version {args.version}"
        )
    core = start_detached(
        args.home, args.run, version=args.version, workers=args.workers, database=args.database
    )
    _err(
        f"Mailman core {args.version} running: pid {core.pid}, {core.url},"
        f" {core.workers} REST worker(s), {core.database}, log {core.log_path}"
    )
    print(export_lines(core.env()), end="")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    if not args.run.is_dir():
        raise CoreError(f"no such directory: {args.run}")
    pid = stop_recorded(args.run)
    _err(f"stopped Mailman core (pid {pid})" if pid else f"no core running in {args.run}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    run_dir = args.run.absolute()
    pid = read_pid(run_dir)
    if pid is None or not _is_our_master(pid, run_dir / CONFIG_NAME):
        print(f"not running ({run_dir})")
        return 1
    try:
        env = read_env(run_dir)
        url = env["MAILMAN_REST_URL"]
        status, body = rest_get(
            f"{url}/system/versions", env["MAILMAN_REST_USER"], env["MAILMAN_REST_PASSWORD"]
        )
    except (OSError, KeyError, ValueError) as exc:
        print(f"master running (pid {pid}) but REST does not answer: {exc}")
        return 1
    if status != 200:
        print(f"master running (pid {pid}) but REST answered HTTP {status}")
        return 1
    version = body.get("mailman_version", "?") if isinstance(body, dict) else "?"
    print(f"running: pid {pid}, {url}, {version}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mailman_core.py",
        description="Install and run a throwaway GNU Mailman 3.3 core on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("install", help="install Mailman core into HOME/VERSION/venv (idempotent)")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument(
        "--version", action="append", choices=sorted(VERSIONS),
        help=f"release to install (repeatable; default {DEFAULT_VERSION})",
    )  # fmt: skip
    p.set_defaults(func=_cmd_install)
    p = sub.add_parser(
        "start", help="start a detached core; print `export MAILMAN_REST_*=...` lines"
    )
    p.add_argument("--home", type=Path, required=True, help="directory given to install")
    p.add_argument("--run", type=Path, required=True, help="config, data and logs go here")
    p.add_argument(
        "--version", choices=sorted(VERSIONS), default=DEFAULT_VERSION,
        help=f"Mailman release (default {DEFAULT_VERSION})",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=STOCK_WORKERS,
        help=f"REST worker processes (default {STOCK_WORKERS}, Mailman's own)",
    )  # fmt: skip
    p.add_argument(
        "--database", choices=("sqlite", "postgresql"), default="sqlite",
        help="sqlite in RUN, or a PostgreSQL cluster of the core's own (default sqlite)",
    )  # fmt: skip
    p.set_defaults(func=_cmd_start)
    p = sub.add_parser("stop", help="stop the core recorded in RUN")
    p.add_argument("--run", type=Path, required=True)
    p.set_defaults(func=_cmd_stop)
    p = sub.add_parser("status", help="exit 0 when the core recorded in RUN answers")
    p.add_argument("--run", type=Path, required=True)
    p.set_defaults(func=_cmd_status)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (CoreError, ClusterError, OSError) as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
