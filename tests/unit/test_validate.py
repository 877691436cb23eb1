"""`listsync validate`: every bad input gets file:LINE:COL, a field, a message and exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO, Run, write_site

GOOD = "owners: [alice@example.org]\n"


def test_example_site_validates(run: Run) -> None:
    result = run("--root", str(REPO), "validate")
    assert result.status == 0, result.out
    files = len(list((REPO / "lists").glob("*.yaml")))
    assert files >= 60
    assert f"{files} valid list file(s), 0 error(s), 0 warning(s)" in result.out


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param(
            "syntax",
            "description: x\nowners: [alice@example.org\n",
            "lists/syntax.yaml:3:1: a list opened with '[' is not closed with ']'",
            id="yaml-syntax",
        ),
        pytest.param(
            "indent",
            "description: x\n  owners: [alice@example.org]\n",
            "lists/indent.yaml:2:9: a ':' where a value was expected: is this line indented",
            id="yaml-indent",
        ),
        pytest.param(
            "dash",
            "owners:\n  alice@example.org\n  - bob@example.org\n",
            "lists/dash.yaml:2:3: owners: expected a list, got 'alice@example.org -"
            " bob@example.org': start each item on a line of its own with '- '",
            id="missing-dash",
        ),
        pytest.param(
            "quote",
            'owners: [alice@example.org]\ndescription: "unterminated\n',
            "lists/quote.yaml:3:1: a quoted text is not closed: add its closing quote",
            id="yaml-quote",
        ),
        pytest.param(
            "tabs",
            "owners:\n\t- alice@example.org\n",
            "lists/tabs.yaml:2:1: tabs are not allowed for indentation; use spaces",
            id="yaml-tab-indent",
        ),
        pytest.param(
            "nestedtab",
            GOOD + "dmarc:\n  mitigation: none\n \tunconditional: true\n",
            "lists/nestedtab.yaml:4:2: tabs are not allowed for indentation; use spaces",
            id="yaml-tab-indent-nested",
        ),
        pytest.param(
            "tabvalue",
            GOOD + "description:\tA list.\n",
            "lists/tabvalue.yaml:2:13: a tab is not allowed here; use spaces",
            id="yaml-tab-after-key",
        ),
        pytest.param(
            "dupkey",
            "owners: [alice@example.org]\ndescription: x\nowners: [bob@example.org]\n",
            "lists/dupkey.yaml:3:1: owners: duplicate key: set on line 1 and again on line 3;"
            " a key may appear only once",
            id="duplicate-key",
        ),
        pytest.param(
            "dupnested",
            GOOD + "dmarc:\n  mitigation: none\n  unconditional: true\n  mitigation: reject\n",
            "lists/dupnested.yaml:5:3: dmarc.mitigation: duplicate key: set on line 3 and again"
            " on line 5",
            id="duplicate-nested-key",
        ),
        pytest.param(
            "dupflow",
            GOOD + "dmarc: {mitigation: none, mitigation: reject}\n",
            "lists/dupflow.yaml:2:27: dmarc.mitigation: duplicate key: set twice on line 2"
            " (columns 9 and 27)",
            id="duplicate-key-one-line",
        ),
        pytest.param(
            "empty", "", "lists/empty.yaml:1:1: empty file: expected a mapping", id="empty"
        ),
        pytest.param(
            "comments",
            "# only a comment\n",
            "lists/comments.yaml:1:1: empty file",
            id="only-comments",
        ),
        pytest.param(
            "toplist",
            "- alice@example.org\n",
            "lists/toplist.yaml:1:1: expected a mapping of fields at the top level, found a list",
            id="top-level-list",
        ),
        pytest.param(
            "scalar",
            "just text\n",
            "lists/scalar.yaml:1:1: expected a mapping of fields at the top level, found a str",
            id="top-level-scalar",
        ),
        pytest.param(
            "types",
            "owners: alice@example.org\n",
            "lists/types.yaml:1:9: owners: expected a list, got 'alice@example.org'",
            id="wrong-type-list",
        ),
        pytest.param(
            "boolean",
            GOOD + "disabled: yes\n",
            "lists/boolean.yaml:2:11: disabled: expected true or false, got 'yes'",
            id="wrong-type-bool",
        ),
        pytest.param(
            "desc",
            GOOD + "description: [a, b]\n",
            "lists/desc.yaml:2:14: description: expected a string, got a list",
            id="wrong-type-string",
        ),
        pytest.param(
            "enum",
            GOOD + "visibility: publc\n",
            "lists/enum.yaml:2:13: visibility: 'publc' is not one of: public, private "
            "(did you mean 'public'?)",
            id="unknown-enum",
        ),
        pytest.param(
            "prefix",
            GOOD + "category: admin\n",
            "lists/prefix.yaml:2:11: category: 'admin' is not one of: discussion, notification,"
            " administrative, team (did you mean 'administrative'?)",
            id="enum-did-you-mean-prefix",
        ),
        pytest.param(
            "shouting",
            GOOD + "posting: ANNOUNCE\n",
            "lists/shouting.yaml:2:10: posting: 'ANNOUNCE' is not one of: open, members,"
            " moderated, announce (did you mean 'announce'?)",
            id="enum-did-you-mean-case",
        ),
        pytest.param(
            "nested",
            GOOD + "dmarc:\n  mitigation: munge\n",
            "lists/nested.yaml:3:15: dmarc.mitigation: 'munge' is not one of:",
            id="unknown-nested-enum",
        ),
        pytest.param(
            "badaddr",
            "owners:\n  - alice@example.org\n  - not-an-address\n",
            "lists/badaddr.yaml:3:5: owners[1]: 'not-an-address' is not an e-mail address",
            id="bad-address",
        ),
        pytest.param(
            "baddomain",
            "owners: [alice@exa mple.org]\n",
            "lists/baddomain.yaml:1:10: owners[0]: 'alice@exa mple.org' is not",
            id="bad-address-domain",
        ),
        pytest.param(
            "twice",
            "owners: [alice@example.org, Alice@Example.ORG]\n",
            "lists/twice.yaml:1:9: owners: alice@example.org listed more than once",
            id="address-twice-in-role",
        ),
        pytest.param(
            "noowner",
            "description: nobody owns me\n",
            "lists/noowner.yaml:1:1: owners: a list needs at least one owner unless it is disabled",
            id="no-owner",
        ),
        pytest.param(
            "extra",
            GOOD + "ownres: [bob@example.org]\n",
            "lists/extra.yaml:2:1: ownres: unknown field (did you mean 'owners'?)",
            id="unknown-field-did-you-mean",
        ),
        pytest.param(
            "setting",
            GOOD + "settings:\n  archive_polcy: public\n",
            "lists/setting.yaml:3:3: settings.archive_polcy: unknown Mailman list setting "
            "'archive_polcy' (did you mean 'archive_policy'?)",
            id="unknown-setting",
        ),
        pytest.param(
            "secret",
            GOOD + "settings:\n  moderator_password: hunter2\n",
            "lists/secret.yaml:3:3: settings.moderator_password: moderator_password is a secret",
            id="secret-setting",
        ),
        pytest.param(
            "readonly",
            GOOD + "settings:\n  created_at: '2020-01-01'\n",
            "lists/readonly.yaml:3:3: settings.created_at: created_at is read-only",
            id="read-only-setting",
        ),
        pytest.param(
            "settingvalue",
            GOOD + "settings:\n  archive_policy: sometimes\n",
            "lists/settingvalue.yaml:3:19: settings.archive_policy: expected one of",
            id="setting-bad-enum-value",
        ),
        pytest.param(
            "settingtypo",
            GOOD + "settings:\n  archive_policy: privte\n",
            "lists/settingtypo.yaml:3:19: settings.archive_policy: expected one of: never,"
            " private, public (did you mean 'private'?)",
            id="setting-enum-did-you-mean",
        ),
        pytest.param(
            "x",
            GOOD,
            "lists/x.yaml:1:1: name: 'x' does not match the site's naming pattern",
            id="name-against-pattern",
        ),
        pytest.param(
            "Upper",
            GOOD,
            "lists/Upper.yaml:1:1: name: 'Upper' cannot be a list name: lower-case letters",
            id="name-upper-case",
        ),
        pytest.param(
            "..%2Fadmin",
            GOOD,
            "lists/..%2Fadmin.yaml:1:1: name: '..%2Fadmin' cannot be a list name",
            id="name-url-path-tricks",
        ),
        pytest.param(
            "disabled-owner-only",
            "owners: [devnull@example.org]\n",
            "lists/disabled-owner-only.yaml:1:9: owners: devnull@example.org is the site's "
            "disabled_owner: it cannot be the only owner of an enabled list",
            id="disabled-owner-sole-owner",
        ),
    ],
)
def test_bad_list_file(run: Run, tmp_path: Path, name: str, content: str, expected: str) -> None:
    write_site(tmp_path, {name: content, "fine": GOOD})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert expected in result.out
    assert "Traceback" not in result.out + result.err
    assert result.out.endswith("1 valid list file(s), 1 error(s), 0 warning(s)\n")


def test_non_utf8_bytes(run: Run, tmp_path: Path) -> None:
    write_site(tmp_path, {})
    (tmp_path / "lists" / "latin1.yaml").write_bytes(
        b"owners: [alice@example.org]\ndescription: caf\xe9\n"
    )
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert "lists/latin1.yaml:2:17: not valid UTF-8 (byte 0xe9)" in result.out


def test_every_error_reported_in_one_run(run: Run, tmp_path: Path) -> None:
    write_site(
        tmp_path,
        {
            "one": "owners: [nobody]\nvisibility: hidden\n",
            "two": "",
            "three": GOOD,
        },
    )
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    lines = [line for line in result.out.splitlines() if line.startswith("lists/")]
    assert lines == [
        "lists/one.yaml:1:10: owners[0]: 'nobody' is not an e-mail address",
        "lists/one.yaml:2:13: visibility: 'hidden' is not one of: public, private",
        "lists/two.yaml:1:1: empty file: expected a mapping of fields",
    ]
    assert "1 valid list file(s), 3 error(s), 0 warning(s)" in result.out


def test_files_with_a_bad_name_are_not_counted_as_valid(run: Run, tmp_path: Path) -> None:
    write_site(tmp_path, {"Bad_Name": GOOD, "good": GOOD, "also-good": GOOD})
    (tmp_path / "lists" / "other.yml").write_text(GOOD)

    result = run("--root", str(tmp_path), "validate")

    assert result.status == 1
    assert result.out.splitlines() == [
        "lists/Bad_Name.yaml:1:1: name: 'Bad_Name' cannot be a list name: lower-case letters,"
        " digits and . _ + - only",
        "lists/other.yml:1:1: list files end in .yaml; rename this file",
        "2 valid list file(s), 2 error(s), 0 warning(s)",
    ]


def test_two_files_declaring_one_list(run: Run, tmp_path: Path) -> None:
    write_site(tmp_path, {"tor-dev": GOOD})
    (tmp_path / "lists" / "tor-dev.yml").write_text(GOOD)
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert "lists/tor-dev.yml:1:1: declares list 'tor-dev' again (see lists/tor-dev.yaml)" in (
        result.out
    )


def test_missing_site_config(run: Run, tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "a-list.yaml").write_text(GOOD)
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert "listsync.yaml:1:1: missing: a site needs listsync.yaml" in result.out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("domain: [lists.example.org]\n", "listsync.yaml:1:9: domain: expected a string"),
        ("domian: lists.example.org\n", "listsync.yaml:1:1: domian: unknown field (did you mean"),
        ("domain: lists.example.org\nnaming: '(['\n", "listsync.yaml:2:9: naming: not a valid"),
        (
            "domain: lists.example.org\ndefaults:\n  posting: everyone\n",
            "listsync.yaml:3:12: defaults.posting: 'everyone' is not one of",
        ),
        ("domain: lists.example.org\n  bad: indent\n", "listsync.yaml:2:6: a ':' where a value"),
        ("", "listsync.yaml:1:1: empty file"),
    ],
)
def test_broken_site_config(run: Run, tmp_path: Path, content: str, expected: str) -> None:
    write_site(tmp_path, {"fine": GOOD}, config=content)
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert expected in result.out


def test_disabled_list_needs_disabled_owner(run: Run, tmp_path: Path) -> None:
    write_site(tmp_path, {"old": "disabled: true\n"}, config="domain: lists.example.org\n")
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert "lists/old.yaml:1:11: disabled: needs 'disabled_owner:' in listsync.yaml" in result.out


def test_setting_shadowing_a_typed_field_is_a_warning(run: Run, tmp_path: Path) -> None:
    write_site(tmp_path, {"odd": GOOD + "visibility: public\nsettings:\n  advertised: false\n"})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 0
    assert (
        "lists/odd.yaml:4:3: warning: settings.advertised: overrides the typed field 'visibility'"
        in result.err
    )
    assert "1 valid list file(s), 0 error(s), 1 warning(s)" in result.out


def test_usage_errors_exit_1_never_2_which_means_changes(run: Run) -> None:
    for args in (["plan", "--format", "yaml"], ["no-such-command"], ["plan", "--bogus"]):
        result = run(*args)
        assert result.status == 1, args
        assert "Error:" in result.err


# A valid file is read with ruamel's safe loader and only re-read with the
# round-trip one when it has a problem: both must mean the same thing.
SCALARS = """\
description: yes
owners: [Alice Example <Alice@Example.org>, bob@example.org]
moderators: []
visibility: private
dmarc: {mitigation: none, unconditional: false}
settings:
  max_message_size: 0777
  max_num_recipients: 0x1F
  bounce_score_threshold: "5"
  digest_size_threshold: 5.0
  subject_prefix: "on "
  acceptable_aliases: ['^a-.*@example\\.org$', "b@example.org"]
  send_welcome_message: false
  admin_immed_notify: true
  info: |
    two
    lines
  digest_volume_frequency: monthly
"""


@pytest.mark.parametrize(
    ("content", "fast"),
    [
        (GOOD, True),
        (SCALARS, False),  # 0777 and 0x1F: YAML 1.1 and 1.2 differ, so the round-trip path
        ("# yaml-language-server: $schema=../schema/list.schema.json\n" + GOOD, True),
        (GOOD + "disabled: true\n", True),
        ("%YAML 1.2\n---\n" + GOOD + "description: >-\n  folded\n  text\n", True),
    ],
)
def test_safe_and_round_trip_loaders_agree(tmp_path: Path, content: str, fast: bool) -> None:
    from ruamel.yaml import YAML

    from listsync.load import load_valid_site
    from listsync.models import ListSpec
    from listsync.yamlfile import plain

    round_trip = ListSpec.model_validate(plain(YAML(typ="rt", pure=True).load(content)))
    write_site(tmp_path, {"xx": content})
    site, _ = load_valid_site(tmp_path)
    loaded = site.lists["xx"]
    assert (not loaded._document) is fast, "a clean file takes the fast parse, if it can"
    assert loaded.spec == round_trip
    assert loaded.spec.model_dump(mode="json") == round_trip.model_dump(mode="json")
    assert loaded.position(("owners",)) == (content.count("\n", 0, content.index("owners")) + 1, 9)


def test_a_file_with_a_problem_still_gets_positions(run: Run, tmp_path: Path) -> None:
    # a value the safe loader refuses outright (a local tag) and a validation error
    write_site(tmp_path, {"a": GOOD + "description: !local x\n", "b": GOOD + "posting: opne\n"})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert "lists/a.yaml:2:" in result.out
    assert "lists/b.yaml:2:10: posting: 'opne' is not one of" in result.out


# -- files found free of problems are remembered ----------------------------------------


SHADOWING = GOOD + "settings: {advertised: true}\n"


def remembered(cache: Path) -> list[str]:
    """The keys of the files the cache at `cache` remembers as valid, every site's."""
    return sorted(
        key for site in cache.glob("site-*.json") for key in json.loads(site.read_text())["entries"]
    )


def test_validate_parses_again_only_files_it_has_not_found_free_of_problems(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listsync import load

    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    site = write_site(
        tmp_path / "site", {"clean": GOOD, "shadowing": SHADOWING, "broken": "owners: [x]\n"}
    )
    first = run("--root", str(site), "validate")
    assert first.status == 1
    assert "2 valid list file(s), 1 error(s), 1 warning(s)" in first.out
    assert len(remembered(cache)) == 1, "a warning, like an error, keeps a file out"

    parsed: list[str] = []
    load_list = load._load_list

    def counting(path: Path, *args: Any) -> load.ListFile | None:
        parsed.append(path.name)
        return load_list(path, *args)

    monkeypatch.setattr(load, "_load_list", counting)
    assert run("--root", str(site), "validate") == first
    assert sorted(parsed) == ["broken.yaml", "shadowing.yaml"]


def test_the_cache_is_one_file_a_site_written_only_when_it_learns_something(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    site = write_site(tmp_path / "site", {"aa": GOOD, "bb": GOOD, "cc": GOOD})
    assert run("--root", str(site), "validate").status == 0
    (written,) = cache.iterdir()
    assert len(remembered(cache)) == 3
    written.write_text(written.read_text())  # the same entries, with a time of its own
    stamp = written.stat().st_mtime_ns
    assert run("--root", str(site), "validate").status == 0
    assert written.stat().st_mtime_ns == stamp, "nothing new: not written again"

    (site / "lists" / "bb.yaml").write_text(GOOD + "description: changed\n")
    before = remembered(cache)
    assert run("--root", str(site), "validate").status == 0
    after = remembered(cache)
    assert len(after) == 3, "bb.yaml's old content is forgotten"
    assert len(set(after) - set(before)) == 1
    assert list(cache.iterdir()) == [written], "no temporary file is left behind"

    other = write_site(tmp_path / "other", {"aa": GOOD})
    assert run("--root", str(other), "validate").status == 0
    assert len(list(cache.iterdir())) == 2, "another site, another file"


def test_a_damaged_cache_is_no_cache(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    site = write_site(tmp_path / "site", {"aa": GOOD, "bb": "owners: [x]\n"})
    first = run("--root", str(site), "validate")
    (written,) = cache.iterdir()
    for damage in (
        "{not json",
        '{"entries": []}',
        json.dumps({"entries": {remembered(cache)[0]: 1}}),
    ):
        written.write_text(damage)
        assert run("--root", str(site), "validate") == first
        assert len(remembered(cache)) == 1, "written again, whole"


def test_a_scoped_load_remembers_no_file_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from listsync.load import load_valid_site

    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    site = write_site(tmp_path / "site", {"chosen": GOOD, "shadowing": SHADOWING, "other": GOOD})
    load_valid_site(site, ["chosen"])
    assert len(remembered(cache)) == 1, "other.yaml only: validate must still warn"


# -- a key given no value ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            GOOD + "nonmembers:\n  # bob@example.org: accept\n",
            "lists/xx.yaml:2:1: nonmembers: has no value (null), which could mean none or leave"
            " them alone: write {} to declare none, or remove the key to leave them alone",
            id="nonmembers-emptied",
        ),
        pytest.param(
            GOOD + "header_filters:\n",
            "lists/xx.yaml:2:1: header_filters: has no value (null), which could mean none or"
            " leave them alone: write [] to declare none, or remove the key to leave them alone",
            id="header-filters",
        ),
        pytest.param(
            GOOD + "bans: ~\n",
            "lists/xx.yaml:2:1: bans: has no value (null), which could mean none or leave them"
            " alone: write [] to declare none, or remove the key to leave them alone",
            id="bans-tilde",
        ),
        pytest.param(
            GOOD + "members: null\n",
            "lists/xx.yaml:2:1: members: has no value (null), which could mean none or leave"
            " them alone: write [] to declare none, or remove the key to leave them alone",
            id="members",
        ),
        pytest.param(
            GOOD + "members_from:\n",
            "lists/xx.yaml:2:1: members_from: has no value (null), which could mean none or"
            " leave them alone: name a roster file or an ldap: search, or write 'members: []' to"
            " declare none, or remove the key to leave them alone",
            id="members-from",
        ),
        pytest.param(
            "owners:\n  # - alice@example.org\ndisabled: true\n",
            "lists/xx.yaml:1:1: owners: has no value (null): write [] to declare none (the same"
            " as removing the key), or list them",
            id="owners",
        ),
        pytest.param(
            GOOD + "moderators:\n",
            "lists/xx.yaml:2:1: moderators: has no value (null): write [] to declare none (the"
            " same as removing the key), or list them",
            id="moderators",
        ),
    ],
)
def test_a_key_with_no_value_is_an_error_naming_what_to_write(
    run: Run, tmp_path: Path, content: str, expected: str
) -> None:
    write_site(tmp_path, {"xx": content, "fine": GOOD})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 1
    assert [line for line in result.out.splitlines() if line.startswith("lists/")] == [expected]
    assert result.out.endswith("1 valid list file(s), 1 error(s), 0 warning(s)\n")


def test_none_declared_or_the_key_left_out_is_valid(run: Run, tmp_path: Path) -> None:
    declared = GOOD + "moderators: []\nnonmembers: {}\nheader_filters: []\nbans: []\nmembers: []\n"
    write_site(tmp_path, {"declared": declared, "omitted": GOOD})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 0, result.out
    assert result.out == "2 valid list file(s), 0 error(s), 0 warning(s)\n"


# -- addresses whose domain looks mistyped ----------------------------------------------

# example.org is known: three addresses use it, and the site's disabled_owner.
KNOWN = "owners: [alice@example.org, bob@example.org]\nmoderators: [carol@example.org]\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "owners:\n  - alice@example.org\n  - gaba@exmaple.org\n",
            "lists/xx.yaml:3:5: warning: owners[1]: the domain exmaple.org looks like a typo of"
            " example.org, used 5 times in the site (did you mean gaba@example.org?)",
            id="owner-swapped-letters",
        ),
        pytest.param(
            "owners: [Gaba <Gaba@Exmaple.org>]\n",
            "lists/xx.yaml:1:10: warning: owners[0]: the domain exmaple.org looks like a typo"
            " of example.org, used 4 times in the site (did you mean gaba@example.org?)",
            id="owner-with-display-name",
        ),
        pytest.param(
            GOOD + "moderators: [x@example.ogr]\n",
            "lists/xx.yaml:2:14: warning: moderators[0]: the domain example.ogr looks like a"
            " typo of example.org, used 5 times in the site (did you mean x@example.org?)",
            id="moderator-tld-not-real",
        ),
        pytest.param(
            GOOD + "nonmembers:\n  ci-bot@example.org: accept\n  y@gmial.com: accept\n",
            "lists/xx.yaml:4:3: warning: nonmembers.y@gmial.com: the domain gmial.com looks"
            " like a typo of gmail.com, a common mail provider (did you mean y@gmail.com?)",
            id="nonmember-provider",
        ),
        pytest.param(
            GOOD + "members:\n  - dave@example.org\n  - erin@exmaple.ogr\n",
            "lists/xx.yaml:4:5: warning: members[1]: the domain exmaple.ogr looks like a typo"
            " of example.org, used 6 times in the site (did you mean erin@example.org?)",
            id="member-two-edits",
        ),
        pytest.param(
            GOOD + "members:\n  - {address: frank@gmail.co, delivery_mode: mime_digests}\n",
            "lists/xx.yaml:3:15: warning: members[0].address: the domain gmail.co looks like a"
            " typo of gmail.com, a common mail provider (did you mean frank@gmail.com?)",
            id="member-mapping-real-tld-missing-a-letter",
        ),
        pytest.param(
            GOOD + "members: [list-owner@lists.exmaple.org]\n",
            "lists/xx.yaml:2:11: warning: members[0]: the domain lists.exmaple.org looks like"
            " a typo of lists.example.org, the site's own domain (did you mean"
            " list-owner@lists.example.org?)",
            id="site-domain",
        ),
    ],
)
def test_an_address_at_a_domain_one_or_two_slips_from_a_known_one_is_a_warning(
    run: Run, tmp_path: Path, content: str, expected: str
) -> None:
    write_site(tmp_path, {"known": KNOWN, "xx": content})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 0, result.out
    assert result.err.splitlines() == [expected]
    assert result.out == "2 valid list file(s), 0 error(s), 1 warning(s)\n"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(GOOD, id="known-domain"),
        pytest.param(
            "owners: [gaba@exmaple.org, x@exmaple.org]\nmoderators: [y@exmaple.org]\n",
            id="used-twice-besides-itself",
        ),
        pytest.param("owners: [gaba@example.com]\n", id="another-real-tld"),
        pytest.param("owners: [gaba@example.net]\n", id="another-real-tld-two-edits"),
        pytest.param("owners: [x@gmx.at, y@ymail.com, z@mail.com]\n", id="providers"),
        pytest.param("owners: [x@riseup.org]\n", id="provider-at-another-real-tld"),
        pytest.param("owners: [x@a.example.org]\n", id="subdomain"),
        pytest.param("owners: [x@mx1.example.org]\n", id="digits"),
        pytest.param("owners: [x@cis.example.org]\n", id="short-label"),
        pytest.param(GOOD + "bans: ['spam@exmaple.org', '^.*@gmial\\.com$']\n", id="bans"),
        pytest.param("owners: [x@mi.com]\n", id="half-a-label-or-more"),
    ],
)
def test_no_warning_where_a_domain_may_well_be_meant(
    run: Run, tmp_path: Path, content: str
) -> None:
    subdomains = (
        "owners: [a@cs.example.org, b@cs.example.org, c@mx2.example.org, d@mx2.example.org]\n"
    )
    write_site(tmp_path, {"known": KNOWN, "hosts": subdomains, "xx": content})
    result = run("--root", str(tmp_path), "validate")
    assert result.status == 0, result.out
    assert result.out == "3 valid list file(s), 0 error(s), 0 warning(s)\n"
    assert result.err == ""


ALONE = "domain: lists.example.org\n"  # no disabled_owner to count


def test_a_domain_used_once_elsewhere_is_not_known(run: Run, tmp_path: Path) -> None:
    write_site(
        tmp_path,
        {"one": "owners: [alice@example.org]\n", "xx": "owners: [x@exmaple.org]\n"},
        config=ALONE,
    )
    result = run("--root", str(tmp_path), "validate")
    assert result.out == "2 valid list file(s), 0 error(s), 0 warning(s)\n"


def test_of_two_domains_used_alike_neither_is_taken_for_the_others_typo(
    run: Run, tmp_path: Path
) -> None:
    write_site(
        tmp_path,
        {
            "one": "owners: [a@example.org, b@example.org]\n",
            "two": "owners: [c@exmaple.org, d@exmaple.org]\n",
        },
        config=ALONE,
    )
    result = run("--root", str(tmp_path), "validate")
    assert result.out == "2 valid list file(s), 0 error(s), 0 warning(s)\n"


def test_a_roster_file_line_is_warned_about_naming_only_its_own_address(
    run: Run, tmp_path: Path
) -> None:
    site = write_site(tmp_path, {"known": KNOWN, "board": GOOD + "members_from: rosters/b.txt\n"})
    (site / "rosters").mkdir()
    (site / "rosters" / "b.txt").write_text(
        "# the board\ndana@example.org\ngaba@exmaple.org\nyuki@gmial.com\n"
    )
    result = run("--root", str(site), "validate")
    assert result.status == 0, result.out
    assert result.err.splitlines() == [
        "rosters/b.txt:3:1: warning: the domain exmaple.org looks like a typo of example.org,"
        " used 6 times in the site (did you mean gaba@example.org?)",
        "rosters/b.txt:4:1: warning: the domain gmial.com looks like a typo of gmail.com,"
        " a common mail provider (did you mean yuki@gmail.com?)",
    ]
    assert "dana" not in result.err
    assert result.out == "2 valid list file(s), 0 error(s), 2 warning(s)\n"


def test_a_redacting_site_masks_the_address_and_the_suggestion(run: Run, tmp_path: Path) -> None:
    config = "domain: lists.example.org\nredact_addresses: true\n"
    write_site(tmp_path, {"known": KNOWN, "xx": "owners: [gaba@exmaple.org]\n"}, config=config)
    result = run("--root", str(tmp_path), "validate")
    assert result.err == (
        "lists/xx.yaml:1:10: warning: owners[0]: the domain exmaple.org looks like a typo of"
        " example.org, used 3 times in the site (did you mean g***@example.org?)\n"
    )


def test_a_file_remembered_as_valid_is_warned_about_when_the_rest_of_the_site_changes(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LISTSYNC_CACHE_DIR", str(cache))
    typo = "owners: [gaba@exmaple.org]\n"
    others = "owners: [x@exmaple.org, y@exmaple.org]\n"  # exmaple.org: used thrice, known
    site = write_site(tmp_path / "site", {"known": KNOWN, "typo": typo, "others": others})
    first = run("--root", str(site), "validate")
    assert first.out == "3 valid list file(s), 0 error(s), 0 warning(s)\n"
    assert len(remembered(cache)) == 3

    (site / "lists" / "others.yaml").write_text("owners: [x@example.org, y@example.org]\n")
    warned = (
        "lists/typo.yaml:1:10: warning: owners[0]: the domain exmaple.org looks like a typo of"
        " example.org, used 6 times in the site (did you mean gaba@example.org?)\n"
    )
    for _ in range(2):  # typo.yaml is remembered, and read again each time for its position
        result = run("--root", str(site), "validate")
        assert result.err == warned
        assert result.out == "3 valid list file(s), 0 error(s), 1 warning(s)\n"
