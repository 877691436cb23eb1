"""What validates arrives filled in: the placeholders Mailman 3.3.10 fills from the domain's
base_url (`$mailinglist_url`, ...), proven by real mail through Mailman.

Mailman 3.3.10's expand() (mailman/utilities/string.py) adds `$base_url` and
the `[urlpatterns]` placeholders only for a list whose domain has a
`base_url`, and leaves them in the mail as written otherwise. listsync creates
its domain with one (Postorius' root below the site's `web_url`); a domain
made without one makes plan refuse a text that uses them.
"""

from __future__ import annotations

from pathlib import Path

import requests
from mail import READER, SmtpSink, body, delivered, post, subscribe, wait_until
from mailmanclient import Client
from webserver import TextServer

from helpers import FOOTER_NAME, Run, publish_and_apply, template_site
from mailman_core import MailmanCore
from proxy import Proxy

FOOTER = "Your subscription: $mailinglist_url\n"


def domain_resource(core: MailmanCore, domain: str) -> str:
    return f"{core.url}/domains/{domain}"


def base_url_of(core: MailmanCore, domain: str) -> object:
    response = requests.get(
        domain_resource(core, domain), auth=(core.user, core.password), timeout=30
    )
    response.raise_for_status()
    return response.json().get("base_url")


NOTICES = (
    "description: Notices.\nowners: [alice@example.org]\n"
    f"templates:\n  {FOOTER_NAME}: templates/footer.txt\n"
)


def test_a_footer_with_mailinglist_url_arrives_filled_in_on_a_domain_listsync_created(
    run: Run,
    tmp_path: Path,
    domain: str,
    mail_core: MailmanCore,
    mail_client: Client,
    smtp_sink: SmtpSink,
    through_proxy: Proxy,
    pages: TextServer,
) -> None:
    site = template_site(
        tmp_path / "site",
        domain,
        pages.url,
        {"notices": NOTICES},
        {"footer.txt": FOOTER},
        config=f"web_url: https://web.{domain}\n",
    )
    publish_and_apply(run, site, pages)
    subscribe(mail_client.get_list(f"notices@{domain}"), READER)

    post(mail_core, f"notices@{domain}", READER, f"Filled in {domain}")
    copies = wait_until("the post delivered", lambda: delivered(smtp_sink, f"Filled in {domain}"))
    text = body(copies[0])
    assert f"Your subscription: https://web.{domain}/postorius/lists/notices.{domain}" in text
    assert "$mailinglist_url" not in text
    assert base_url_of(mail_core, domain) == f"https://web.{domain}/postorius"


def test_plan_refuses_them_for_a_domain_without_a_base_url(
    run: Run,
    tmp_path: Path,
    domain: str,
    connected: Proxy,
    mailman_core: MailmanCore,
    mailman_client: Client,
) -> None:
    mailman_client.create_domain(domain)  # by hand: no base_url
    site = template_site(
        tmp_path / "site",
        domain,
        "https://lists.example.org/templates",
        {"notices": NOTICES},
        {"footer.txt": "Plain first line.\n" + FOOTER},
    )
    assert run("--root", str(site), "validate").status == 0  # the text is right for Mailman
    expected = (
        f"templates/footer.txt:2:20: {FOOTER_NAME}: $mailinglist_url is filled in only when the"
        f" domain has a base_url, and {domain} has none in Mailman, so it would be sent as"
        f" written: set the domain's base_url (PATCH /3.1/domains/{domain}"
        f" base_url=https://{domain}/postorius), or leave it out"
    )
    connected.recorder.clear()
    for command in (("plan",), ("apply", "--yes")):
        result = run("--root", str(site), *command)
        assert result.status == 1
        assert expected in result.out, result.out + result.err
        assert f"error(s) in the site's files for {domain} in GNU Mailman" in result.err
    assert connected.recorder.writes == []

    snapshot = tmp_path / "snapshot.json"
    assert run("--root", str(site), "snapshot", "--out", str(snapshot)).status == 0
    from_snapshot = run("--root", str(site), "plan", "--live", str(snapshot))
    assert from_snapshot.status == 1
    assert expected in from_snapshot.out

    patched = requests.patch(
        domain_resource(mailman_core, domain),
        data={"base_url": f"https://{domain}/postorius"},
        auth=(mailman_core.user, mailman_core.password),
        timeout=30,
    )
    patched.raise_for_status()
    assert run("--root", str(site), "plan", "--detailed-exitcode").status == 2
