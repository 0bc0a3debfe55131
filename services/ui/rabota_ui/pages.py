"""Server-rendered pages of the embedded app (Jinja2 templates beside this module).

Every page carries a Content-Security-Policy: scripts only with the response's nonce or from the BX24 library
(`B24_JS_URL`), requests only to the app itself, and framing only by the portal the page belongs to (when it
is known) or, for pages of no known portal, by a page of the deployment's scheme."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from rabota_common.runtime import Runtime
from rabota_common.store import PortalRecord

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]))
# What a CSP source expression may hold (no spaces, semicolons, commas or quotes sneak in from a setting).
_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/%-]*)?$")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL ('' when it has none)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _source(url: str) -> str:
    parts = urlsplit(url)
    value = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme and parts.netloc else ""
    return value if _SOURCE.match(value) else ""


def portal_ancestors(portal: PortalRecord) -> str:
    """The origins a portal's pages frame the app from: its REST endpoint's origin and its domain."""
    endpoint = origin_of(portal.client_endpoint)
    scheme = urlsplit(portal.client_endpoint).scheme or "https"
    found = [o for o in (endpoint, f"{scheme}://{portal.domain}" if portal.domain else "") if o and _SOURCE.match(o)]
    return " ".join(dict.fromkeys(found)) or "'none'"


def default_ancestors(rt: Runtime) -> str:
    # Pages of no known portal (errors) hold nothing to click on; a https deployment lets only https pages frame them.
    return "https:" if rt.settings.PUBLIC_URL.startswith("https://") else "http: https:"


def content_security_policy(rt: Runtime, nonce: str, frame_ancestors: str | None = None) -> str:
    scripts = " ".join(s for s in (f"'nonce-{nonce}'", _source(rt.settings.B24_JS_URL)) if s)
    return "; ".join((
        "default-src 'none'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        f"frame-ancestors {frame_ancestors or default_ancestors(rt)}",
    ))


def render(rt: Runtime, template: str, status_code: int = 200, frame_ancestors: str | None = None,
           **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    context.setdefault("b24_js_url", rt.settings.B24_JS_URL)
    html = _env.get_template(template).render(csp_nonce=nonce, **context)
    return HTMLResponse(html, status_code=status_code, headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": content_security_policy(rt, nonce, frame_ancestors)})
