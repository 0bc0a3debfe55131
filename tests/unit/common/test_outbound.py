"""Where outbound requests may go: Bitrix24 REST endpoints over https to public addresses, unless an operator
admits a host (on-premise portals, the sandbox); a name is checked again at connection time."""

from __future__ import annotations

import pytest
from rabota_common.outbound import (
    AddressRefused,
    PublicOnlyResolver,
    allowed_entries,
    endpoint_problem,
    host_allowed,
    is_public,
    literal_ip,
)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1%eth0", "::ffff:10.0.0.1",
                                     "2002:0a00:0001::1", "224.0.0.1", "fc00::1", "not an ip"])
def test_private_reserved_and_disguised_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_public_addresses() -> None:
    assert is_public("93.84.112.1") and is_public("2a00:1450:4001:800::200e") and is_public("::ffff:8.8.8.8")


@pytest.mark.parametrize(("endpoint", "problem"), [
    ("https://demo.bitrix24.by/rest/", None),
    ("https://93.84.112.1/rest/", None),
    ("https://demo.bitrix24.by:443/rest/", None),
    ("http://demo.bitrix24.by/rest/", "only https on port 443"),
    ("https://demo.bitrix24.by:8443/rest/", "only https on port 443"),
    ("https://demo.bitrix24.by/rest/x/", "path is not the REST base /rest/"),
    ("https://10.0.0.5/rest/", "address is not public"),
    ("https://user:pw@demo.bitrix24.by/rest/", "no host, or credentials in the URL"),
    ("https://demo.bitrix24.by/rest/?x=1", "query or fragment in the endpoint"),
    ("ftp://demo.bitrix24.by/rest/", "scheme is not https"),
    ("https://demo.bitrix24.by:99999/rest/", "malformed URL"),
    ("https:///rest/", "no host, or credentials in the URL"),
])
def test_endpoint_problems(endpoint: str, problem: str | None) -> None:
    assert endpoint_problem(endpoint, set()) == problem


def test_an_admitted_host_may_use_http_its_port_and_a_private_address() -> None:
    entries = allowed_entries(" 127.0.0.1:8081 , B24.Corp.Local ,")
    assert entries == {"127.0.0.1:8081", "b24.corp.local"}
    assert endpoint_problem("http://127.0.0.1:8081/portal/demo/rest/", entries) is None
    assert endpoint_problem("http://127.0.0.1:8082/rest/", entries) == "only https on port 443"
    assert endpoint_problem("http://b24.corp.local/rest/", entries) is None
    assert endpoint_problem("http://b24.corp.local/other/", entries) == "path is not a REST base (/rest/)"
    assert host_allowed("B24.CORP.LOCAL", 443, entries) and not host_allowed("b24.corp.local", 8443, entries)
    assert host_allowed("::1", 9000, {"[::1]:9000"})


async def test_the_resolver_refuses_names_that_resolve_to_private_addresses() -> None:
    resolver = PublicOnlyResolver({"localhost:8081"})
    try:
        with pytest.raises(AddressRefused):
            await resolver.resolve("localhost", 443)
        assert await resolver.resolve("localhost", 8081)  # admitted: resolved as it is
    finally:
        await resolver.close()


def test_literal_ip() -> None:
    assert str(literal_ip("[::1]")) == "::1" and str(literal_ip("10.0.0.1")) == "10.0.0.1"
    assert literal_ip("demo.bitrix24.by") is None
