"""Wiring of the auth service: core NATS request/reply subjects in one queue group."""

from __future__ import annotations

from faststream import FastStream
from rabota_common import subjects
from rabota_common.models import B24Token, HhConnectReply, HhConnectRequest, HhToken, TokenRequest
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings

from rabota_auth import tokens


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("auth", settings)
    broker = rt.broker

    @broker.subscriber(subjects.AUTH_B24_TOKEN, queue="auth")
    async def on_b24_token(req: TokenRequest) -> B24Token:
        return await tokens.store_guarded(tokens.b24_token(rt, req), B24Token(ok=False, error=tokens.STORE_DOWN))

    @broker.subscriber(subjects.AUTH_HH_TOKEN, queue="auth")
    async def on_hh_token(req: TokenRequest) -> HhToken:
        return await tokens.store_guarded(tokens.hh_token(rt, req), HhToken(ok=False, error=tokens.STORE_DOWN))

    @broker.subscriber(subjects.AUTH_HH_REVOKED, queue="auth")
    async def on_hh_revoked(req: TokenRequest) -> HhToken:
        return await tokens.store_guarded(tokens.hh_revoked(rt, req), HhToken(ok=False, error=tokens.STORE_DOWN))

    @broker.subscriber(subjects.AUTH_HH_CONNECT, queue="auth")
    async def on_hh_connect(req: HhConnectRequest) -> HhConnectReply:
        return await tokens.hh_connect(rt, req)

    @broker.subscriber(subjects.AUTH_HH_LOGOUT, queue="auth")
    async def on_hh_logout(req: TokenRequest) -> HhConnectReply:
        return await tokens.hh_logout(rt, req)

    return service_app(rt), rt
