"""Templates and message acceptance, proven by real mail through Mailman.

The core runs its mail runners: a post goes in over LMTP, out over SMTP to
the sink. The site's template texts are published by `listsync render
--templates-out` into a directory a static server on 127.0.0.1 serves at the
site's `templates_url`, as the pipeline's pages job does. Nothing between
listsync, Mailman and the mail is mocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mail import READER, SmtpSink, body, delivered, held, post, subscribe, wait_until
from mailmanclient import Client
from webserver import TextServer

from helpers import Run, publish_and_apply, write_site
from mailman_core import MailmanCore
from proxy import Proxy

pytestmark = pytest.mark.compat

BOT = "commits@ci.example.org"


def test_a_footer_from_the_repository_reaches_members_and_its_change_reaches_the_next_post(
    run: Run,
    tmp_path: Path,
    domain: str,
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
    pages: TextServer,
) -> None:
    config = f"domain: {domain}\ntemplates_url: {pages.url}\n"
    site = write_site(
        tmp_path / "site",
        {
            "notices": "description: Notices.\nowners: [alice@example.org]\n"
            "templates:\n  list:member:regular:footer: templates/footer.txt\n"
        },
        config=config,
    )
    (site / "templates").mkdir()
    footer = site / "templates" / "footer.txt"
    footer.write_text("Footer one: you read $display_name ($list_id).\n")
    publish_and_apply(run, site, pages)
    subscribe(mail_client.get_list(f"notices@{domain}"), READER)

    post(mail_core, f"notices@{domain}", READER, f"First notice {domain}")
    first = wait_until(
        "the first post delivered",
        lambda: delivered(smtp_sink, f"First notice {domain}"),
    )
    assert f"Footer one: you read notices (notices.{domain})." in body(first[0])

    footer.write_text("Footer two: manage your subscription at $listname.\n")
    planned = run("--root", str(site), "plan")
    assert "-Footer one: you read $display_name ($list_id)." in planned.out
    assert "+Footer two: manage your subscription at $listname." in planned.out
    publish_and_apply(run, site, pages)
    through_proxy.recorder.clear()
    assert run("--root", str(site), "apply", "--yes").status == 0
    assert through_proxy.recorder.writes == []

    post(mail_core, f"notices@{domain}", READER, f"Second notice {domain}")
    second = wait_until(
        "the second post delivered",
        lambda: delivered(smtp_sink, f"Second notice {domain}"),
    )
    text = body(second[0])
    assert f"Footer two: manage your subscription at notices@{domain}." in text
    assert "Footer one" not in text
    new_name = next(name for name in pages.fetched if name.startswith("footer."))
    assert pages.fetched[new_name] >= 1


def test_who_may_post_is_what_the_file_says(
    run: Run,
    tmp_path: Path,
    domain: str,
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
) -> None:
    site = write_site(
        tmp_path / "site",
        {
            "commits": "description: Commit notifications.\nowners: [alice@example.org]\n"
            f"nonmembers:\n  {BOT}: accept\n"
            "header_filters:\n  - {header: X-Spam-Flag, pattern: '^YES', action: hold}\n"
        },
        config=f"domain: {domain}\n",
    )
    applied = run("--root", str(site), "apply", "--yes")
    assert applied.status == 0, applied.out + applied.err
    mlist = mail_client.get_list(f"commits@{domain}")
    subscribe(mlist, READER)

    post(mail_core, f"commits@{domain}", BOT, f"Bot commit {domain}")
    wait_until(
        "the allowed non-member's post delivered",
        lambda: delivered(smtp_sink, f"Bot commit {domain}"),
    )
    assert not held(mlist, f"Bot commit {domain}")

    post(mail_core, f"commits@{domain}", "stranger@example.net", f"Stranger {domain}")
    wait_until("the stranger's post held", lambda: held(mlist, f"Stranger {domain}"))
    assert delivered(smtp_sink, f"Stranger {domain}") == []

    spam = f"Spam from a member {domain}"
    post(mail_core, f"commits@{domain}", READER, spam, headers={"X-Spam-Flag": "YES"})
    wait_until("the post the header filter matches held", lambda: held(mlist, spam))
    assert delivered(smtp_sink, spam) == []

    through_proxy.recorder.clear()
    assert run("--root", str(site), "apply", "--yes").status == 0
    assert through_proxy.recorder.writes == []
