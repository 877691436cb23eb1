"""The kinds of list setting (`listsync.mailman_settings`; pure, hypothesis).

For every setting of the catalogue: a file may set it only if a PATCH may,
and every value the check accepts is sent (`wire_value`) in a form that
Mailman stores as something `same` reads as the value, so an applied
setting never shows as drift. What Mailman stores is
`memory_backend.stored_setting`, a model of Mailman 3.3.10's form parsing and
converters; the real round trips are test_reconcile.py's and
test_properties.py's. The exposure ranks (`OPENNESS`) cover every value of
their settings, agree with what the check accepts, and order the stages of
`plan.stage_of`.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from examples import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st
from memory_backend import form_values, new_list_settings, stored_setting

from listsync import mailman_settings
from listsync.changes import SettingChange, Stage
from listsync.mailman_settings import SETTINGS, WRITABLE, check_value, desired_value, same
from listsync.models import ListSpec
from listsync.plan import stage_of

BOOLEAN_WORDS: tuple[str, ...] = ("true", "yes", "1", "on", "enabled", "enable")
BOOLEAN_WORDS += ("false", "no", "0", "off", "disabled", "disable")
ADDRESSES = ("alice@example.org", "Bob@Example.ORG", '"carol"@example.net', "d@xn--bcher-kva.ch")
REGEXPS = (r"^.*@example\.org$", r"^bot-[0-9]+@ci\.example\.org$", "^(")
TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")) | st.sampled_from("\n\t"),
    max_size=12,
)
JUNK = st.none() | st.booleans() | st.floats() | st.integers() | TEXT | st.lists(TEXT, max_size=2)


def _cased(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).flatmap(lambda w: st.sampled_from([w, w.upper(), w.title()]))


def candidates(name: str) -> st.SearchStrategy[Any]:
    """Values for setting `name` in every form a file may write, and some it may not."""
    setting = SETTINGS[name]
    kind = setting.kind
    if kind == "bool":
        typed: st.SearchStrategy[Any] = st.booleans() | _cased(BOOLEAN_WORDS)
    elif kind == "int":
        typed = st.integers(-3, 2**31 - 1) | st.integers(0, 10**6).map(str)
    elif kind == "float":
        typed = st.floats(allow_nan=False) | st.integers(0, 10**6) | st.floats(0, 1e6).map(str)
    elif kind == "enum":
        typed = st.sampled_from(setting.choices)
    elif kind == "timedelta":
        parts = st.lists(st.integers(0, 400), min_size=5, max_size=5)
        typed = parts.map(
            lambda ns: "".join(f"{n}{u}" for n, u in zip(ns, "wdhms", strict=True) if n)
        ) | st.sampled_from(["1.5d", "0.25h", "90d", "1d43200.0s", "0d"])
    elif kind == "language":
        typed = st.sampled_from(sorted(mailman_settings.STOCK_LANGUAGES))
    elif kind == "list":
        item = st.sampled_from(ADDRESSES + REGEXPS + ("@tor-dev@lists.example.org",)) | TEXT
        typed = st.lists(item, max_size=3) | item
    else:
        typed = TEXT
    return typed | JUNK


WRITTEN = sorted(WRITABLE)
values = st.sampled_from(WRITTEN).flatmap(lambda name: st.tuples(st.just(name), candidates(name)))


@settings(max_examples=examples(600), deadline=None)
@given(values)
@example(("filter_types", [""]))  # sent as '', which Mailman reads as no item
@example(("acceptable_aliases", "Alias@Example.org"))
@example(("bounce_info_stale_after", "36h"))
@example(("digest_size_threshold", "1e3"))
def test_what_the_check_accepts_reads_back_the_same_once_written(named: tuple[str, Any]) -> None:
    name, value = named
    if check_value(name, value) is not None:
        return
    stored = stored_setting(name, form_values(mailman_settings.wire_value(name, value)))
    assert same(name, stored, desired_value(name, value)), stored
    assert same(name, stored, value), stored


@pytest.mark.parametrize("name", WRITTEN)
def test_each_writable_setting_takes_a_value_that_reads_back_the_same(name: str) -> None:
    """Every setting meets the property above with a value of its kind, and the value of
    a new list (what `listsync import` files) is accepted and reads back as itself."""
    default = new_list_settings("probe@lists.example.org").get(name)
    if default is None:  # display_name and subject_prefix derive from the name
        default = "Probe"
    filed = mailman_settings.file_value(name, default)
    assert check_value(name, filed) is None, filed
    stored = stored_setting(name, form_values(mailman_settings.wire_value(name, filed)))
    assert same(name, stored, default)
    assert same(name, default, desired_value(name, filed))


@pytest.mark.parametrize("name", sorted(set(SETTINGS) - WRITABLE))
def test_a_setting_no_patch_may_change_is_refused_in_files(name: str) -> None:
    value: object = "https://lists.example.org/t.txt" if name.endswith("_uri") else "x"
    assert check_value(name, value) is not None or SETTINGS[name].kind == "uri"
    spec = {"owners": ["alice@example.org"], "settings": {name: value}}
    with pytest.raises(ValueError, match=name):
        ListSpec.model_validate(spec)


def test_the_catalogue_has_one_kind_per_setting_and_every_kind_is_covered() -> None:
    kinds = {s.kind for s in SETTINGS.values()}
    assert {SETTINGS[name].kind for name in WRITTEN} == kinds - {"readonly", "uri"}
    assert all(SETTINGS[name].choices for name in WRITTEN if SETTINGS[name].kind == "enum")
    assert list(SETTINGS) == sorted(SETTINGS)


# -- exposure --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(mailman_settings.OPENNESS))
def test_openness_ranks_every_value_its_setting_takes(name: str) -> None:
    ranks = mailman_settings.OPENNESS[name]
    setting = SETTINGS[name]
    assert name in WRITABLE
    assert setting.kind in ("bool", "enum")
    taken = set(setting.choices) if setting.kind == "enum" else {False, True}
    assert set(ranks) == taken
    assert all(check_value(name, value) is None for value in ranks)
    assert min(ranks.values()) == 0
    for word in ("yes", "no") if setting.kind == "bool" else ():
        assert mailman_settings.openness(name, word) == ranks[desired_value(name, word)]


@pytest.mark.parametrize("name", sorted(mailman_settings.OPENNESS))
def test_the_lock_down_is_no_more_open_than_a_new_list(name: str) -> None:
    locked = mailman_settings.openness(name, mailman_settings.LOCKED_DOWN[name])
    fresh = mailman_settings.openness(name, new_list_settings("probe@lists.example.org")[name])
    assert locked is not None
    assert fresh is not None
    assert locked <= fresh
    assert set(mailman_settings.LOCKED_DOWN) == set(mailman_settings.OPENNESS)


@pytest.mark.parametrize("name", sorted(mailman_settings.OPENNESS))
def test_the_stage_of_a_change_follows_openness(name: str) -> None:
    ranks = mailman_settings.OPENNESS[name]
    for before, after in itertools.product(ranks, repeat=2):
        stage = stage_of(SettingChange(name, before, after))
        expected = (
            Stage.RESTRICT
            if ranks[after] < ranks[before]
            else Stage.OPEN
            if ranks[after] > ranks[before]
            else Stage.CONFIGURE
        )
        assert stage is expected, (before, after)


def test_mitigation_is_applied_first_and_closed_actions_let_nothing_through() -> None:
    for name in mailman_settings.MITIGATION:
        value = SETTINGS[name].choices[0] if SETTINGS[name].kind == "enum" else True
        assert stage_of(SettingChange(name, None, value)) is Stage.RESTRICT
    assert {"reject", "discard"} == mailman_settings.CLOSED_ACTIONS
