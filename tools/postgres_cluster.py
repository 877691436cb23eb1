"""A throwaway PostgreSQL cluster on 127.0.0.1, for Mailman cores under test.

This module owns the database server that production-shaped test cores use:
``PostgresCluster().start()`` runs ``initdb`` and ``pg_ctl`` from Debian's
``postgresql`` package (no system service is assumed or touched) into a new
directory of its own, listening on 127.0.0.1 and a free port, with a random
password for its one superuser and no Unix socket. ``create_database(name)``
returns the SQLAlchemy URL a Mailman core is configured with; ``stop()`` stops
the server and removes the directory.

PostgreSQL refuses to run as root: as root, the server runs as the
``postgres`` system user that Debian's package creates, and its directory is
made under the system's temporary directory (which that user can reach).

Durability is switched off (``fsync``, ``synchronous_commit``): it changes
nothing about how concurrent transactions behave, only what survives a power
cut, and a test cluster is thrown away anyway.

Standard library only: this runs before any project dependency is installed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ClusterError", "PostgresCluster", "find_bindir"]

SUPERUSER = "listsync"
_SERVER_USER = "postgres"  # Debian's system user for the server, used when we are root
_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
"""
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ClusterError(RuntimeError):
    """Installing, starting or using the cluster went wrong."""


def find_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: $LISTSYNC_PG_BINDIR, Debian's, or PATH."""
    override = os.environ.get("LISTSYNC_PG_BINDIR")
    if override:
        return Path(override)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ClusterError(
        "PostgreSQL server programs not found (initdb, pg_ctl): install Debian's"
        " 'postgresql' package, or set LISTSYNC_PG_BINDIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """One PostgreSQL server of our own; use as a context manager or start()/stop()."""

    def __init__(self, *, startup_timeout: int = 60) -> None:
        self.bindir = find_bindir()
        self.startup_timeout = startup_timeout
        self.port = 0
        self.password = ""
        self.base: Path | None = None
        self._as_user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._as_user = pwd.getpwnam(_SERVER_USER)
            except KeyError:
                raise ClusterError(
                    f"running as root needs the '{_SERVER_USER}' system user to run PostgreSQL"
                    " (Debian's 'postgresql' package creates it)"
                ) from None

    @property
    def data_dir(self) -> Path:
        if self.base is None:
            raise ClusterError("the cluster has not been started")
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        if self.base is None:
            raise ClusterError("the cluster has not been started")
        return self.base / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._as_user
        try:
            done = subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                cwd=self.base, env={**os.environ, "PGPASSWORD": self.password},
                user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                extra_groups=[] if user else None,
            )  # fmt: skip
        except OSError as exc:
            raise ClusterError(f"cannot run {args[0]}: {exc}") from exc
        if check and done.returncode != 0:
            raise ClusterError(
                f"{args[0]} failed (exit {done.returncode}): {done.stderr.strip()}"
                + (f"\n{self._log_tail()}" if args[0] == "pg_ctl" else "")
            )
        return done

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except (OSError, ClusterError):
            return ""
        return "--- end of the server log:\n" + "\n".join(lines[-15:])

    def start(self) -> Self:
        """initdb a new cluster and start its server; return once it accepts connections."""
        if self.base is not None:
            raise ClusterError(f"this cluster is already started ({self.base})")
        self.base = Path(tempfile.mkdtemp(prefix="listsync-pg-"))
        atexit.register(self.stop)
        try:
            self._initdb()
            self.port = _free_port()
            with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write(_SETTINGS.format(port=self.port))
            self._run(
                "pg_ctl", "start", "--wait", f"--timeout={self.startup_timeout}",
                "-D", str(self.data_dir), "-l", str(self.log_path),
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        assert self.base is not None
        self.password = secrets.token_urlsafe(24)
        password_file = self.base / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        if self._as_user is not None:
            for path in (self.base, password_file):
                os.chown(path, self._as_user.pw_uid, self._as_user.pw_gid)
        self._run(
            "initdb", "--pgdata", str(self.data_dir), "--username", SUPERUSER,
            "--pwfile", str(password_file), "--auth", "scram-sha-256",
            "--encoding", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        password_file.unlink()

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` (as Mailman's [database] url takes it)."""
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database (dropped first if it exists); returns its URL."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _psql(self, statement: str) -> None:
        self._run(
            "psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
            "--command", statement,
        )  # fmt: skip

    def is_running(self) -> bool:
        if self.base is None or not self.data_dir.is_dir():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def stop(self) -> None:
        """Stop the server and remove its directory; harmless when already stopped."""
        base, self.base = self.base, None
        if base is None:
            return
        atexit.unregister(self.stop)
        data = base / "data"
        try:
            if (data / "postmaster.pid").exists():
                self.base = base
                self._run("pg_ctl", "stop", "--wait", "-m", "fast", "-D", str(data), check=False)
        finally:
            self.base = None
            with contextlib.suppress(OSError):
                shutil.rmtree(base)

    def detach(self) -> None:
        """Let the server outlive this Python process (``stop()`` still works)."""
        atexit.unregister(self.stop)

    @classmethod
    def recorded(cls, base: Path) -> Self:
        """The cluster that another process started in `base` (to stop it)."""
        cluster = cls()
        cluster.base = Path(base)
        return cluster

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
