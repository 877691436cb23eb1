"""When the template host does not serve a text: apply goes on without it, and the check says so.

The texts are published by `listsync render --templates-out` into a directory
that a static server on 127.0.0.1 (`TextServer`) serves at the site's
`templates_url`; the server is then made to answer 500 or 404, or never to
answer, for one text. Mailman is the real core: its lists' URIs are read
back from `GET /3.1/lists/ID/uris`.
"""

from __future__ import annotations

import time
from pathlib import Path

from mailmanclient import Client
from webserver import TextServer

from helpers import (
    FOOTER_NAME,
    Run,
    published_name,
    render_templates,
    template_site,
    template_uris,
)
from mailman_core import MailmanCore
from proxy import Proxy

V1 = "Footer one of $display_name.\n"
V2 = "Footer two: the list moved, write to $request_email.\n"


def with_footer(path: str, owners: str = "teor@example.org") -> str:
    return f"owners: [{owners}]\ntemplates:\n  {FOOTER_NAME}: {path}\n"


def owners(client: Client, fqdn: str) -> list[str]:
    return sorted(str(owner.email) for owner in client.get_list(fqdn).owners)


def test_a_footer_not_yet_served_never_keeps_a_compromised_owner(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
) -> None:
    with TextServer(tmp_path / "pages") as pages:
        site = template_site(
            tmp_path / "site",
            domain,
            pages.url,
            {
                "tor-dev": with_footer(
                    "templates/footer.txt", "teor@example.org, mallory@example.org"
                )
            },
            {"footer.txt": V1},
        )
        render_templates(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        fqdn = f"tor-dev@{domain}"
        v1_url = f"{pages.url}/{published_name('footer.txt', V1)}"
        assert owners(mailman_client, fqdn) == ["mallory@example.org", "teor@example.org"]

        # Remove the compromised owner and change the footer; the new text is not served yet.
        (site / "lists" / "tor-dev.yaml").write_text(with_footer("templates/footer.txt"))
        (site / "templates" / "footer.txt").write_text(V2)
        v2_url = f"{pages.url}/{published_name('footer.txt', V2)}"
        result = run("--root", str(site), "apply", "--yes")

        assert result.status == 1
        assert owners(mailman_client, fqdn) == ["teor@example.org"]
        assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: v1_url}
        failure = [line for line in result.err.splitlines() if line.startswith("failed: tor-dev")]
        assert failure == [
            f"failed: tor-dev: {FOOTER_NAME} not set: {v2_url} answers HTTP 404"
            " (Mailman sends an empty text in its place); publish the texts of 'listsync"
            " render --templates-out' at the site's templates_url first"
            f" [~ template {FOOTER_NAME}: {v1_url} -> {v2_url}]"
        ]
        assert "    its other 1 change(s) were applied" in result.err
        assert "Applied 0 list(s), 1 failed: tor-dev." in result.out

        render_templates(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        assert template_uris(mailman_core, fqdn) == {FOOTER_NAME: v2_url}
        assert run("--root", str(site), "plan", "--detailed-exitcode").status == 0


def test_every_url_mailman_would_fetch_is_checked_once_as_mailman_fetches_it(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_client: Client,
) -> None:
    texts = {f"footer-{n}.txt": f"Footer {n} of $display_name.\n" for n in "abcde"}
    lists = {
        "list-a": with_footer("templates/footer-a.txt"),
        "list-a2": with_footer("templates/footer-a.txt"),  # one URL, fetched once
        "list-b": with_footer("templates/footer-b.txt"),
        "list-c": with_footer("templates/footer-c.txt"),
        "list-d": with_footer("templates/footer-d.txt"),
        "list-e": with_footer("templates/footer-e.txt"),
        "by-hand": "owners: [teor@example.org]\n",  # its URL was set in Postorius
    }
    with (
        TextServer(tmp_path / "pages") as pages,
        TextServer(tmp_path / "bare", charset=None) as bare,
    ):
        site = template_site(tmp_path / "site", domain, pages.url, lists, texts)
        render_templates(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        bare.directory.mkdir()
        (bare.directory / "hand.txt").write_text("Grüße an alle.\n")
        hand_url = f"{bare.url}/hand.txt"
        mailman_client.get_list(f"by-hand@{domain}").set_template(FOOTER_NAME, hand_url)
        url = {name: f"{pages.url}/{published_name(name, text)}" for name, text in texts.items()}

        checked = run("--root", str(site), "check-templates")
        assert checked.status == 1
        assert checked.err.splitlines() == [
            f"not served: {hand_url} is served without 'charset=utf-8' in its Content-Type,"
            " so Mailman would read its non-ASCII characters wrongly: serve .txt files as"
            " text/plain; charset=utf-8",
            f"    used by by-hand ({FOOTER_NAME}, in Mailman, not its file)",
        ]
        (bare.directory / "hand.txt").write_text("Plain ASCII.\n")
        fetched = dict(pages.fetched)
        healthy = run("--root", str(site), "check-templates")
        assert healthy.status == 0, healthy.err
        assert healthy.out == "Checked 6 template URL(s) of 7 list(s): 0 not served.\n"
        assert {n: pages.fetched[n] - fetched.get(n, 0) for n in pages.fetched} == {
            published_name(name, text): 1 for name, text in texts.items()
        }

        pages.answer(published_name("footer-a.txt", texts["footer-a.txt"]), 500)
        pages.answer(published_name("footer-b.txt", texts["footer-b.txt"]), 404)
        pages.stall(published_name("footer-c.txt", texts["footer-c.txt"]))
        pages.stall(published_name("footer-d.txt", texts["footer-d.txt"]))
        started = time.monotonic()
        broken = run("--root", str(site), "check-templates")
        elapsed = time.monotonic() - started
        assert broken.status == 1
        assert broken.err.splitlines() == [
            f"not served: {url['footer-a.txt']} answers HTTP 500 (Mailman sends its own"
            " default text instead)",
            f"    used by list-a ({FOOTER_NAME}), list-a2 ({FOOTER_NAME})",
            f"not served: {url['footer-b.txt']} answers HTTP 404 (Mailman sends an empty text"
            " in its place)",
            f"    used by list-b ({FOOTER_NAME})",
            f"not served: no answer within 5 s from {url['footer-c.txt']} (ReadTimeout; Mailman"
            " cannot send the mail that needs it)",
            f"    used by list-c ({FOOTER_NAME})",
            f"not served: no answer within 5 s from {url['footer-d.txt']} (ReadTimeout; Mailman"
            " cannot send the mail that needs it)",
            f"    used by list-d ({FOOTER_NAME})",
        ]
        assert broken.out == (
            "Checked 6 template URL(s) of 7 list(s): 4 not served"
            " (list-a, list-a2, list-b, list-c, list-d).\n"
        )
        assert elapsed < 9.5, "the two stalled URLs are waited for at once, not in turn"

        # The plan's contract is unchanged: it does not fetch, and shows no changes.
        plan = run("--root", str(site), "plan", "--detailed-exitcode")
        assert plan.status == 0, plan.out + plan.err

        one = run("--root", str(site), "check-templates", "--list", "list-b")
        assert one.status == 1
        assert one.out == "Checked 1 template URL(s) of 1 list(s): 1 not served (list-b).\n"


def test_a_footer_planned_but_not_yet_applied_is_checked_too(
    run: Run, tmp_path: Path, domain: str, connected: Proxy, mailman_core: MailmanCore
) -> None:
    with TextServer(tmp_path / "pages") as pages:
        site = template_site(
            tmp_path / "site",
            domain,
            pages.url,
            {"tor-dev": with_footer("templates/footer.txt")},
            {"footer.txt": V1},
        )
        render_templates(run, site, pages.directory)
        assert run("--root", str(site), "apply", "--yes").status == 0
        (site / "templates" / "footer.txt").write_text(V2)
        v1_url = f"{pages.url}/{published_name('footer.txt', V1)}"
        v2_url = f"{pages.url}/{published_name('footer.txt', V2)}"

        checked = run("--root", str(site), "check-templates")
        assert checked.status == 1
        assert checked.err.splitlines() == [
            f"not served: {v2_url} answers HTTP 404 (Mailman sends an empty text in its place)",
            f"    used by tor-dev ({FOOTER_NAME}, in its file, not yet in Mailman)",
        ]
        assert template_uris(mailman_core, f"tor-dev@{domain}") == {FOOTER_NAME: v1_url}
