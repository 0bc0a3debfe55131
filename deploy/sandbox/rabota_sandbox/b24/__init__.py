"""Bitrix24 portal + OAuth server emulator (a strict test double of the Bitrix24 cloud REST API).

`create_app(config)` builds the FastAPI app: portals under `/portal/{code}/`, REST at
`/portal/{code}/rest/{method}`, the OAuth server at the root (`/oauth/token/`, `/rest/app.info`),
the BX24 JS emulation at `/api/v1/`, the control API under `/_sandbox/` and the portal page at `/`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .config import B24SandboxConfig
from .portal import SandboxState

__all__ = ["B24SandboxConfig", "create_app"]


def create_app(config: B24SandboxConfig | None = None) -> FastAPI:
    from . import control, methods_openlines, oauth, page, rest

    cfg = config or B24SandboxConfig.from_env()
    state = SandboxState(cfg)
    app = FastAPI(title="Bitrix24 sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json",
                  redoc_url=None)
    app.state.b24 = state
    # The REST API answers cross-origin calls (BX24.callMethod runs in the app's iframe on another origin).
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "PUT", "OPTIONS"],
                       allow_headers=["*"])
    app.include_router(control.build_router(state))
    app.include_router(control.build_files_router(state))
    app.include_router(methods_openlines.build_control_router(state))
    app.include_router(oauth.build_router(state))
    app.include_router(rest.build_router(state))
    app.include_router(page.build_router(state))
    return app
