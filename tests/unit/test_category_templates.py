"""Templates per category (`category_templates:` in listsync.yaml), without Mailman (pure)."""

from __future__ import annotations

from pathlib import Path

from helpers import Run, write_site
from listsync.load import load_valid_site

FOOTER = "list:member:regular:footer"
CONFIG = """domain: lists.example.org
templates_url: https://lists.example.org/templates
templates:
  list:member:regular:footer: templates/footer.txt
category_templates:
  notification:
    list:member:regular:footer: templates/no-replies.txt
"""


def category_site(root: Path) -> Path:
    site = write_site(
        root,
        {
            "tor-commits": "category: notification\nowners: [a@example.org]\n",
            "tor-bugs": "category: notification\nowners: [a@example.org]\n"
            f"templates:\n  {FOOTER}: templates/bugs.txt\n",
            "tor-dev": "owners: [a@example.org]\n",
        },
        config=CONFIG,
    )
    (site / "templates").mkdir()
    for name in ("footer.txt", "no-replies.txt", "bugs.txt"):
        (site / "templates" / name).write_text(f"-- \n{name}: the $display_name list\n")
    return site


def test_a_category_s_template_wins_over_the_site_s_and_loses_to_the_file_s(
    tmp_path: Path,
) -> None:
    site, _ = load_valid_site(category_site(tmp_path))
    assert site.effective("tor-commits").templates[FOOTER] == "templates/no-replies.txt"
    assert site.effective("tor-bugs").templates[FOOTER] == "templates/bugs.txt"
    assert site.effective("tor-dev").templates[FOOTER] == "templates/footer.txt"
    assert {"templates/no-replies.txt", "templates/footer.txt"} <= set(site.templates)


def test_a_category_template_is_validated_where_listsync_yaml_names_it(
    run: Run, tmp_path: Path
) -> None:
    site = category_site(tmp_path)
    (site / "templates" / "no-replies.txt").write_text("-- \n$display_nam\n")
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert (
        f"templates/no-replies.txt:2:1: {FOOTER}: $display_nam is not a placeholder" in result.out
    )
    (site / "listsync.yaml").write_text(CONFIG.replace("notification:", "notifications:"))
    result = run("--root", str(site), "validate")
    assert result.status == 1
    assert "listsync.yaml:" in result.out
    assert "'notifications' is not one of" in result.out
    assert "(did you mean 'notification'?)" in result.out
