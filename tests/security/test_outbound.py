"""Issue 14, outbound: Bitrix24 endpoints only over https to public addresses (B24_ALLOWED_HOSTS admits the
sandbox and on-premise portals), answers read up to a size cap. Real servers on loopback, no mocks."""

from __future__ import annotations

import pytest
from rabota_common.b24_client import B24Client, B24Error
from rabota_common.errors import PermanentError
from rabota_common.http import Http
from rabota_common.outbound import endpoint_problem, is_public
from rabota_common.settings import Settings

from tests.security.outbound_support import recording_server
from tests.security.secrets_support import strong_key


def _client(allowed: str = "", **kw: object) -> tuple[Http, B24Client]:
    # Production settings (SANDBOX=0), so with a strong key, as the secrets work requires outside the sandbox.
    settings = Settings(APP_SECRET_KEY=strong_key(), B24_ALLOWED_HOSTS=allowed, **kw)  # type: ignore[arg-type]
    http = Http(settings)
    return http, B24Client(http, settings)


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}/rest/", "https://127.0.0.1:{port}/rest/", "https://127.0.0.1/rest/",
    "http://169.254.169.254/rest/", "https://169.254.169.254/rest/", "https://10.1.2.3/rest/",
    "https://[::1]/rest/", "https://[::ffff:127.0.0.1]/rest/", "https://100.64.0.1/rest/",
    "https://localhost/rest/", "https://user:pw@portal.bitrix24.ru/rest/", "https://portal.bitrix24.ru/evil/",
    "https://portal.bitrix24.ru:8443/rest/", "ftp://portal.bitrix24.ru/rest/",
])
async def test_b24_endpoint_to_a_private_address_is_refused_without_a_request(template: str) -> None:
    async with recording_server() as rec:
        http, b24 = _client()
        try:
            with pytest.raises(B24Error) as caught:
                await b24.call(template.format(port=rec.port), "tok", "app.info")
        finally:
            await http.aclose()
        assert caught.value.code == "ENDPOINT_NOT_ALLOWED" and isinstance(caught.value, PermanentError)
        assert rec.requests == []


async def test_a_name_resolving_to_loopback_is_refused_at_connection_time() -> None:
    # `localhost` passes the static check on the port when admitted nowhere... use https:443 to reach the resolver.
    assert endpoint_problem("https://localhost/rest/", set()) is None  # a name: checked when connecting
    async with recording_server() as rec:
        http, b24 = _client()
        try:
            with pytest.raises(B24Error) as caught:
                await b24.call("https://localhost/rest/", "tok", "app.info")
        finally:
            await http.aclose()
        assert caught.value.code == "ENDPOINT_NOT_ALLOWED"
        assert rec.requests == []


async def test_an_allowed_host_works_and_an_oversized_answer_is_cut() -> None:
    async with recording_server() as rec:
        http, b24 = _client(f"127.0.0.1:{rec.port},localhost:{rec.port}", HTTP_MAX_JSON_BYTES=1024)
        try:
            assert await b24.call(f"http://127.0.0.1:{rec.port}/portal/x/rest/", "tok", "app.info") == {"ID": 1}
            assert await b24.call(f"http://localhost:{rec.port}/rest/", "tok", "app.info") == {"ID": 1}
            rec.body = b'{"result": "' + b"x" * 5000 + b'"}'
            with pytest.raises(B24Error) as caught:
                await b24.call(f"http://127.0.0.1:{rec.port}/rest/", "tok", "app.info")
            assert caught.value.code == "RESPONSE_TOO_LARGE"
        finally:
            await http.aclose()
        assert len(rec.requests) == 3


def test_address_classes() -> None:
    for bad in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                "::1", "::ffff:10.0.0.1", "fe80::1", "fc00::1", "224.0.0.1", "240.0.0.1", "::"):
        assert not is_public(bad), bad
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1:248:1893:25c8:1946")


async def test_hh_token_goes_only_to_headhunter_hosts_and_pdfs_are_capped() -> None:
    from rabota_common.hh_client import HhClient, HhRefused

    async with recording_server(b'{"id": "r1"}') as hh, recording_server(b'{"id": "stolen"}') as foreign:
        settings = Settings(APP_SECRET_KEY=strong_key(), HH_API_URL=f"http://127.0.0.1:{hh.port}",
                            HH_ALLOWED_HOSTS=f"127.0.0.1:{hh.port}",
                            HTTP_MAX_PDF_BYTES=2048)
        http = Http(settings)
        client = HhClient(http, settings, retries=0)
        try:
            for url in (f"http://127.0.0.1:{foreign.port}/resumes/r1", f"http://localhost:{foreign.port}/x.pdf",
                        f"http://127.0.0.1:{hh.port}@127.0.0.1:{foreign.port}/resumes/r1",
                        "https://evil.example/resumes/r1"):
                with pytest.raises(HhRefused) as caught:
                    await client.get("secret-token", url)
                assert caught.value.code == "HOST_NOT_ALLOWED"
                with pytest.raises(HhRefused):
                    await client.download("secret-token", url)
            assert foreign.requests == []
            # The genuine host works; an oversized PDF stops at the cap with a clear, permanent error.
            assert (await client.get("secret-token", f"http://127.0.0.1:{hh.port}/resumes/r1"))["id"] == "r1"
            hh.body = b"%PDF" + b"x" * 4096
            with pytest.raises(HhRefused) as big:
                await client.download("secret-token", f"http://127.0.0.1:{hh.port}/resumes/r1/download/a.pdf")
            assert big.value.code == "RESPONSE_TOO_LARGE"
        finally:
            await http.aclose()


def test_access_log_lines_carry_no_webhook_secret_and_no_oauth_code() -> None:
    import logging

    from rabota_common.telemetry import scrub_access_log

    scrub_access_log()
    logger = logging.getLogger("uvicorn.access")
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:  # the format and arguments uvicorn's access logger uses
        fmt = '%s - "%s %s HTTP/%s" %d'
        logger.info(fmt, "1.2.3.4:5", "POST", "/hh/webhook/S3CRETsecret?x=1", "1.1", 200)
        logger.info(fmt, "1.2.3.4:5", "GET", "/hh/callback?code=C0DEvalue&state=ST4TEvalue", "1.1", 200)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert len(lines) == 2
    text = "\n".join(lines)
    assert "S3CRETsecret" not in text and "C0DEvalue" not in text and "ST4TEvalue" not in text
    assert "/hh/webhook/{secret}" in lines[0] and "/hh/callback?code=[redacted]&state=[redacted]" in lines[1]
