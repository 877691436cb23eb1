"""Targets: which domains and Mailman cores a command covers, and how each core is reached.

A site with one domain (`domain:` in listsync.yaml) is one target on the
default core. A site with several (`domains:`) has a target per domain, on
the core its `core:` names (`cores:`) or on the default one; `--domain` and
`--core` choose among them. Targets come grouped by core (the default core
first), then by domain, so that a core's lock and connection serve its
domains one after the other. The default core is reached through
MAILMAN_REST_URL, MAILMAN_REST_USER and MAILMAN_REST_PASSWORD (or the
matching options); core NAME through MAILMAN_<NAME>_REST_URL, ..._USER and
..._PASSWORD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from listsync.errors import ListsyncError
from listsync.models import DEFAULT_CORE, SiteConfig, did_you_mean


@dataclass(frozen=True, slots=True)
class Target:
    """One domain of the site and the core that serves it."""

    domain: str
    core: str = DEFAULT_CORE
    several: bool = False  # the site says domains: (its files are in lists/DOMAIN/)

    @property
    def unit(self) -> str | None:
        """The domain as the stages take it: None on a site with one domain."""
        return self.domain if self.several else None

    @property
    def heading(self) -> str:
        return self.domain if self.core == DEFAULT_CORE else f"{self.domain} (core {self.core})"


def connection_variables(core: str) -> tuple[str, str, str]:
    """The environment variables that hold the URL, user and password of `core`."""
    prefix = "MAILMAN" if core == DEFAULT_CORE else f"MAILMAN_{core.upper()}"
    return f"{prefix}_REST_URL", f"{prefix}_REST_USER", f"{prefix}_REST_PASSWORD"


def select(
    config: SiteConfig, domains: Sequence[str] = (), core: str | None = None
) -> list[Target]:
    """The targets of `config` that `--domain` (any of `domains`) and `--core` choose: every
    one when neither is given; an unknown domain or core is an error."""
    wanted = {domain.strip().lower() for domain in domains}
    if not config.several_domains:
        unknown = sorted(wanted - {config.domain})
        if unknown:
            raise ListsyncError(
                f"--domain {unknown[0]}: this site's domain is {config.domain}"
                f"{did_you_mean(unknown[0], {config.domain})}"
            )
        if core is not None and core != DEFAULT_CORE:
            raise ListsyncError(
                f"--core {core}: this site has one domain, on the default core ({DEFAULT_CORE})"
            )
        return [Target(config.domain)]
    unknown = sorted(wanted - set(config.domains))
    if unknown:
        raise ListsyncError(
            f"--domain {unknown[0]} is not a domain of listsync.yaml"
            f"{did_you_mean(unknown[0], set(config.domains))}"
        )
    cores = {DEFAULT_CORE, *config.cores}
    if core is not None and core not in cores:
        raise ListsyncError(
            f"--core {core} is not a core of listsync.yaml{did_you_mean(core, cores)}"
        )
    chosen = [
        Target(domain, config.core_of(domain), several=True)
        for domain in sorted(config.domains)
        if (not wanted or domain in wanted) and (core is None or config.core_of(domain) == core)
    ]
    if not chosen:
        raise ListsyncError(f"no domain of listsync.yaml is both --domain and on --core {core}")
    return sorted(chosen, key=lambda t: (t.core != DEFAULT_CORE, t.core, t.domain))


class NotInBundleError(ListsyncError):
    """A document of several domains (a saved plan, a snapshot) without the one asked."""


def domain_part(data: Any, domain: str | None, source: str) -> Any:
    """The part of `domain` in a document of several domains (`{"domains": [...]}`, as
    `--out` writes on a site with several); any other document as it is."""
    if not isinstance(data, dict) or not isinstance(data.get("domains"), list):
        return data
    parts = [part for part in data["domains"] if isinstance(part, dict)]
    found = [part for part in parts if part.get("domain") == domain]
    if domain is None or len(found) != 1:
        held = ", ".join(sorted(str(part.get("domain")) for part in parts))
        raise NotInBundleError(f"{source} holds nothing of {domain} (it holds {held})")
    return found[0]
