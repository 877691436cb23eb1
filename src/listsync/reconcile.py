"""Reconcile: the pipeline from files and a live server to a `Plan`.

Owns the wiring of the stages, as octoDNS' manager does: site -> policy ->
desired states; Mailman -> existing states; both -> plan. Commands call
this and never the stages' internals.
"""

from __future__ import annotations

from collections.abc import Iterable

from listsync.errors import ListsyncError
from listsync.load import Site, count_list_files
from listsync.mailman import MailmanBackend
from listsync.plan import Plan, make_plan
from listsync.policy import ListState, broken_invariants, desired_state


def desired_states(site: Site, names: Iterable[str] | None = None) -> dict[str, ListState]:
    selected = sorted(site.lists) if names is None else sorted(set(names) & set(site.lists))
    return {
        name: desired_state(site.effective(name), site.config.disabled_owner) for name in selected
    }


def compute_plan(site: Site, backend: MailmanBackend, names: Iterable[str] | None = None) -> Plan:
    """Plan the whole site, or only the named lists (without reading the others)."""
    desired = desired_states(site, names)
    broken = broken_invariants(desired, site.config.disabled_owner)
    if broken:
        raise ListsyncError("refusing to plan: " + "; ".join(broken))
    disabled = [name for name, state in desired.items() if state.bans]
    live = backend.read_site(
        site.config.domain, desired, everything=names is None, bans_for=disabled
    )
    scope = "all lists" if names is None else f"{len(desired)} named list(s)"
    return make_plan(
        site.config.domain,
        desired,
        live.lists,
        domain_exists=live.domain_exists,
        unmanaged=live.unmanaged,
        scope=scope,
        managed=len(site.lists) if names is None else count_list_files(site.root),
    )
