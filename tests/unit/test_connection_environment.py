"""The REST connection takes the proxy and CA bundle variables once, as requests would
for each request: a proxy named in the environment is used, one NO_PROXY bypasses is not,
and the CA bundle named (else certifi's, as requests uses) is the one TLS checks against.
A REST URL or bundle it cannot use is one clear error, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests.certs

from listsync.mailman import MailmanUnreachable, PooledConnection

URL = "http://mailman.example:8001/3.1"
TLS_URL = "https://mailman.example/3.1"


def connect(url: str = URL) -> PooledConnection:
    return PooledConnection(url, "user", "secret", timeout=1, pool_size=1)


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


def test_a_proxy_in_the_environment_is_used_with_whole_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    connection = connect()
    assert connection.pool.proxy is not None
    assert connection.pool.proxy.url == "http://proxy.example:3128"
    assert connection.whole_urls


def test_no_proxy_still_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "mailman.example")
    connection = connect()
    assert connection.pool.proxy is None
    assert not connection.whole_urls


def test_a_proxy_s_credentials_go_in_its_own_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://alice:s3cret@proxy.example:3128")
    connection = connect()
    assert connection.pool.proxy_headers["Proxy-Authorization"] == "Basic YWxpY2U6czNjcmV0"


def test_the_ca_bundle_named_is_what_tls_checks_against(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "site-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert connect(TLS_URL).pool.ca_certs == str(bundle)  # type: ignore[attr-defined]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path))
    assert connect(TLS_URL).pool.ca_cert_dir == str(tmp_path)  # type: ignore[attr-defined]


def test_without_a_bundle_tls_checks_against_certifi_as_requests_does() -> None:
    pool = connect(TLS_URL).pool
    assert pool.cert_reqs == "CERT_REQUIRED"  # type: ignore[attr-defined]
    assert pool.ca_certs == requests.certs.where()  # type: ignore[attr-defined]


def test_a_bundle_that_is_not_there_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(MailmanUnreachable, match=r"invalid path: .*missing\.pem"):
        connect(TLS_URL)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mailman.example:8001/3.1", "cannot reach Mailman at"),
        ("http://restadmin:pw@mailman.example:port/3.1", "InvalidURL"),
    ],
)
def test_a_url_that_cannot_be_used_is_one_clear_error(url: str, named: str) -> None:
    with pytest.raises(MailmanUnreachable, match=named) as caught:
        connect(url)
    assert "pw@" not in str(caught.value)
