"""The REST connection reads the proxy and CA bundle variables once, as requests would
for each request: a proxy named in the environment is used, one NO_PROXY bypasses is not."""

from __future__ import annotations

import pytest

from listsync.mailman import PooledConnection

URL = "http://mailman.example:8001/3.1"


def used_for(connection: PooledConnection, url: str) -> dict[str, object]:
    """The proxies and the CA bundle requests uses for a request to `url` now."""
    settings = connection.session.merge_environment_settings(url, {}, None, None, None)
    return {**settings["proxies"], "verify": settings["verify"]}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_proxy_and_ca_bundle_in_the_environment_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/site-ca.pem")
    connection = PooledConnection(URL, "user", "secret", timeout=1, pool_size=1)
    monkeypatch.delenv("HTTP_PROXY")  # read when connecting, not at each request
    assert used_for(connection, f"{URL}/lists") == {
        "http": "http://proxy.example:3128",
        "verify": "/etc/site-ca.pem",
    }


def test_no_proxy_still_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "mailman.example")
    connection = PooledConnection(URL, "user", "secret", timeout=1, pool_size=1)
    assert used_for(connection, f"{URL}/lists") == {"verify": True}
