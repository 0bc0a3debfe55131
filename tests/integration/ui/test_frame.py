"""The embedded app's frame: its form read and checked, and the user it names confirmed by the portal itself
(the Bitrix24 emulator over HTTP): a forged AUTH_ID is refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from rabota_ui.errors import ApiError, install_handlers
from rabota_ui.frame import BAD_MEMBER_ID, current_user, normal_domain, read_frame, user_is_admin

from tests.integration.conftest import Sandbox

MEMBER = "0123456789abcdef0123456789abcdef"


def test_domains_compare_normalised() -> None:
    assert normal_domain(" HTTPS://Demo.Bitrix24.by/ ") == "demo.bitrix24.by" == normal_domain("demo.bitrix24.by")


async def frame_of(form: dict[str, str], query: dict[str, str] | None = None) -> httpx.Response:
    app = FastAPI()
    install_handlers(app)

    @app.post("/frame")
    async def frame(request: Request) -> dict[str, Any]:
        return (await read_frame(request)).model_dump()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui") as http:
        return await http.post("/frame", data=form, params=query or {})


async def test_the_frame_form_is_read_and_checked() -> None:
    r = await frame_of({"DOMAIN": "demo.bitrix24.by", "AUTH_ID": "a", "AUTH_EXPIRES": "1800",
                        "PLACEMENT": "CRM_DEAL_DETAIL_ACTIVITY", "PLACEMENT_OPTIONS": '{"ID": "5"}'},
                       {"member_id": MEMBER})
    frame = r.json()
    assert (frame["member_id"], frame["auth_expires"], frame["placement"], frame["placement_options"]) == (
        MEMBER, 1800, "CRM_DEAL_DETAIL_ACTIVITY", {"ID": "5"})
    lax = (await frame_of({"DOMAIN": "d", "AUTH_ID": "a", "member_id": MEMBER, "AUTH_EXPIRES": "soon",
                           "PLACEMENT_OPTIONS": "[1]"})).json()
    assert lax["auth_expires"] == 3600 and lax["placement_options"] == {} and lax["placement"] == "DEFAULT"
    r = await frame_of({"DOMAIN": "d", "member_id": MEMBER})
    assert (r.status_code, r.json()["error"]) == (400, "bad_frame")
    r = await frame_of({"DOMAIN": "d", "AUTH_ID": "a", "member_id": "*"})
    assert (r.status_code, r.json()["message"]) == (400, BAD_MEMBER_ID)


async def user_token(sandbox: Sandbox, user_id: int) -> str:
    r = await sandbox.http.post(f"{sandbox.url}/_sandbox/portals/demo/frame", json={"user_id": user_id})
    assert r.status_code == 200, r.text
    return str(r.json()["form"]["AUTH_ID"])


async def test_the_portal_confirms_the_user_and_their_role(sandbox: Sandbox, rt: Any) -> None:
    users = (await sandbox.http.get(f"{sandbox.url}/_sandbox/portals/demo/users")).json()
    admin = next(u for u in users if u["ADMIN"])
    token = await user_token(sandbox, int(admin["ID"]))
    frame: Any = type("F", (), {"auth_id": token})()
    assert str((await current_user(rt, frame, sandbox.endpoint))["ID"]) == str(admin["ID"])
    assert await user_is_admin(rt, sandbox.endpoint, token)
    other = next((u for u in users if not u["ADMIN"] and u.get("ACTIVE") in (True, "Y")), None)
    if other is not None:
        assert not await user_is_admin(rt, sandbox.endpoint, await user_token(sandbox, int(other["ID"])))
    forged: Any = type("F", (), {"auth_id": "forged-token"})()
    with pytest.raises(ApiError) as caught:
        await current_user(rt, forged, sandbox.endpoint)
    assert (caught.value.status, caught.value.error) == (403, "frame_not_verified")
    with pytest.raises(ApiError):
        await user_is_admin(rt, sandbox.endpoint, "forged-token")
