"""A real OpenLDAP slapd on 127.0.0.1 for the LDAP roster tests.

`LdapServer` writes a slapd.conf of its own (mdb backend, suffix
dc=example,dc=org, the memberof overlay), loads `GROUPS`' people with
slapadd, starts Debian's /usr/sbin/slapd as the current user on a free port
and waits until it answers a search; `stop` ends it. Nothing here touches a
system slapd, its port or /etc/ldap/slapd.d.

Limits, so that a test can cut an answer short: anyone may read `SIZE_LIMIT`
entries per search, and any number page by page (the paged results control);
`CAPPED` may read `SIZE_LIMIT` entries in all, paged or not, and `NO_PAGING`
may not page at all. Every service account's password is `password(dn)`.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ldap3 import BASE, Connection, Server
from ldap3.core.exceptions import LDAPException

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS_BASE = f"ou=groups,{SUFFIX}"
ROOT_DN = f"cn=admin,{SUFFIX}"
READER = f"cn=reader,ou=services,{SUFFIX}"
CAPPED = f"cn=capped,ou=services,{SUFFIX}"
NO_PAGING = f"cn=no-paging,ou=services,{SUFFIX}"
SIZE_LIMIT = 5

GROUPS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    # group: its people, as (uid, mail values)
    "board": [
        ("alice", ("Alice@Example.org",)),
        ("bob", ("bob@example.org", "bob.builder@example.org")),
        ("carol", ("carol@example.org",)),
    ],
    "staff": [(f"staff{n:02}", (f"staff{n:02}@example.org",)) for n in range(12)],
    "lapsed": [("dave", ("dave@example.org",)), ("erin", ())],
    "odd": [
        ("frank", ("frank@example.org",)),
        ("grace", ("Grace Hopper <grace@example.org>",)),
        ("heidi", ("heidi at example.org",)),
    ],
}
"""`staff` is larger than SIZE_LIMIT; `lapsed` has a person without mail; `odd` has mail
values that are not bare addresses."""


class LdapServerError(Exception):
    pass


def password(dn: str) -> str:
    return "pw-" + dn.split(",", 1)[0].split("=", 1)[1]


def group_dn(group: str) -> str:
    return f"cn={group},{GROUPS_BASE}"


def member_filter(group: str) -> str:
    return f"(memberOf={group_dn(group)})"


@dataclass
class LdapServer:
    """slapd serving `GROUPS` from `directory` (a new, empty directory) on 127.0.0.1."""

    directory: Path
    port: int = 0
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def start(self, deadline: float = 30.0) -> LdapServer:
        for program in (SLAPD, SLAPADD):
            if not program.exists():
                raise LdapServerError(f"{program} is missing: scripts/bootstrap --test installs it")
        config = self.directory / "slapd.conf"
        (self.directory / "db").mkdir()
        config.write_text(self._config(), encoding="utf-8")
        (self.directory / "data.ldif").write_text(_ldif(), encoding="utf-8")
        loaded = subprocess.run(
            [SLAPADD, "-f", config, "-l", self.directory / "data.ldif"],
            capture_output=True,
            text=True,
            check=False,
        )
        if loaded.returncode:
            raise LdapServerError(f"slapadd failed: {loaded.stderr.strip()}")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        log = (self.directory / "slapd.log").open("wb")
        # -d 0: in the foreground (so stop() ends this very process), logging nothing.
        self._process = subprocess.Popen(
            [SLAPD, "-f", config, "-h", f"{self.url}/", "-d", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_ready(time.monotonic() + deadline)
        return self

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self._process is not None and self._process.poll() is not None:
                text = (self.directory / "slapd.log").read_text(errors="replace")
                raise LdapServerError(f"slapd exited ({self._process.returncode}): {text}")
            try:
                connection = Connection(Server(self.url, connect_timeout=1), receive_timeout=1)
                if connection.bind() and connection.search(SUFFIX, "(objectClass=*)", BASE):
                    connection.unbind()
                    return
            except LDAPException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise LdapServerError(f"slapd did not answer on {self.url}")
            time.sleep(0.05)  # poll again: the deadline above bounds the wait

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def _config(self) -> str:
        db = self.directory / "db"
        per_search = f"size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT}"
        return f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {self.directory / "slapd.pid"}
argsfile {self.directory / "slapd.args"}

database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {password(ROOT_DN)}
directory {db}
maxsize 16777216
overlay memberof

limits dn.exact="{CAPPED}" {per_search} size.prtotal=hard
limits dn.exact="{NO_PAGING}" {per_search} size.prtotal=disabled
limits users {per_search} size.pr=unlimited size.prtotal=unlimited
limits anonymous {per_search} size.pr=unlimited size.prtotal=unlimited

access to attrs=userPassword by anonymous auth by * none
access to * by * read
"""


def _ldif() -> str:
    blocks = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS_BASE}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services",
    ]
    for dn in (READER, CAPPED, NO_PAGING):
        cn = dn.split(",", 1)[0].split("=", 1)[1]
        blocks.append(
            f"dn: {dn}\nobjectClass: person\ncn: {cn}\nsn: {cn}\nuserPassword: {password(dn)}"
        )
    for group, people in GROUPS.items():
        for uid, mails in people:
            lines = [
                f"dn: uid={uid},{PEOPLE}",
                "objectClass: inetOrgPerson",
                f"uid: {uid}",
                f"cn: {uid}",
                f"sn: {uid}",
                *(f"mail: {mail}" for mail in mails),
                # slapadd bypasses the overlay: memberOf is written as the overlay would.
                f"memberOf: {group_dn(group)}",
            ]
            blocks.append("\n".join(lines))
        members = "".join(f"\nmember: uid={uid},{PEOPLE}" for uid, _ in people)
        blocks.append(f"dn: {group_dn(group)}\nobjectClass: groupOfNames\ncn: {group}{members}")
    return "\n\n".join(blocks) + "\n"
