"""The webhook address filter judges an IPv6 address by the IPv4 address it embeds, too (issue 9, item 25)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api.webhooks.addresses import RefusedAddress, check_url, resolve
from tests.conftest import bearer
from tests.forms.helpers import agency

EMBEDDING_PRIVATE = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::127.0.0.1",  # IPv4-compatible loopback
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "::8.8.8.8",  # IPv4-compatible: deprecated, never a receiver
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "::ffff:0:a9fe:a9fe",  # SIIT IPv4-translated
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:0:a9fe:a9fe::1",  # Teredo whose server is 169.254.169.254
]


@pytest.mark.parametrize("literal", EMBEDDING_PRIVATE)
def test_an_ipv6_literal_embedding_a_private_ipv4_is_refused(literal: str) -> None:
    with pytest.raises(RefusedAddress) as refused:
        check_url(f"https://[{literal}]/hook", allow_private=False)
    assert refused.value.code == "private_address"


@pytest.mark.parametrize("literal", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "::127.0.0.1"])
def test_a_resolved_address_embedding_a_private_ipv4_is_refused(literal: str) -> None:
    parts = check_url(f"https://[{literal}]/hook", allow_private=True)
    with pytest.raises(RefusedAddress, match="private"):
        resolve(parts, allow_private=False)


@pytest.mark.parametrize("literal", ["2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "8.8.8.8"])
def test_public_addresses_and_their_public_embeddings_pass(literal: str) -> None:
    host = f"[{literal}]" if ":" in literal else literal
    assert check_url(f"https://{host}/hook", allow_private=False).hostname == literal


def test_the_endpoint_refuses_them(client: FlaskClient) -> None:
    moi = agency(client, "authority")
    headers = bearer(moi.sdk.token())
    for literal in ("64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "::127.0.0.1"):
        answer = client.put("/api/v1/webhooks/endpoint", json={"url": f"https://[{literal}]/hook"}, headers=headers)
        assert answer.status_code == 422, literal


@pytest.mark.parametrize("url", [
    "https://hooks.example.org\n.evil/", "https://hooks.example.org/x\n", "https://hooks.example.org/y\t",
    "https://hooks.exa mple.org/", "https://hooks.example.org/\x7f", "https://hööks.example.org/",
    "https://127.1/", "https://2130706433/", "https://0x7f000001/", "https://0x7f.0.0.1/",
    "https://-bad.example.org/", "https://under_score.example.org/", "https://hooks.example.org:99999/",
])
def test_a_url_that_is_not_plainly_a_host_is_refused_at_registration(url: str) -> None:
    with pytest.raises(RefusedAddress) as refused:
        check_url(url, allow_private=True)
    assert refused.value.code == "invalid_url"


@pytest.mark.parametrize("url", ["https://localhost/hook", "https://api.localhost./hook", "https://LOCALHOST:9443/"])
def test_names_that_always_mean_this_host_are_private(url: str) -> None:
    with pytest.raises(RefusedAddress) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == "private_address"


@pytest.mark.parametrize("url", ["https://hooks.example.org/nrm", "https://hooks.example.org.:8443/a?b=c",
                                 "https://xn--hks-qqa.example.org/", "https://a-b.c0.example/"])
def test_ordinary_https_urls_are_accepted(url: str) -> None:
    assert check_url(url, allow_private=False).hostname
