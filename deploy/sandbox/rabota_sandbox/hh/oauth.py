"""OAuth2: authorize page (approve / deny), POST /token, DELETE /oauth/token, bearer authentication."""

from __future__ import annotations

import html
import secrets
import time
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .data import User
from .errors import TokenError, forbidden, not_found, oauth_failure, request_id_of
from .state import AuthCode, SandboxState, Token

router = APIRouter()


def get_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.hh
    return state


# -- bearer authentication ----------------------------------------------------------------------------


def authenticate(request: Request, *, employer: bool = True, user: bool = True) -> tuple[Token, User | None]:
    """Check the bearer token. Raises the documented 403 oauth errors, or 403 forbidden when an
    applicant calls an employer method."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise oauth_failure("bad_authorization")
    tok = state.tokens.get(value)
    if tok is None:
        raise oauth_failure("bad_authorization")
    if tok.revoked is not None:
        raise oauth_failure("token_revoked")
    if tok.expires_at is not None and time.time() >= tok.expires_at:
        raise oauth_failure("token_expired")
    if tok.login is None:
        if user:
            raise oauth_failure("user_auth_expected")
        return tok, None
    account = state.store.users[tok.login]
    if employer and not account.is_employer:
        raise forbidden()
    return tok, account


# -- redirect_uri rules --------------------------------------------------------------------------------


def redirect_uri_allowed(given: str, registered: str) -> bool:
    """Documented rules: same scheme; same host or a subdomain of it; no port unless the saved URI has
    the same one; the same path or a longer one below it; extra query parameters are allowed."""
    try:
        g, r = urlsplit(given), urlsplit(registered)
        g_port, r_port = g.port, r.port
    except ValueError:
        return False
    if g.scheme != r.scheme or not g.hostname or not r.hostname:
        return False
    if g.hostname != r.hostname and not g.hostname.endswith("." + r.hostname):
        return False
    if g_port != r_port:
        return False
    r_path = r.path.rstrip("/")
    g_path = g.path or "/"
    return g_path == r.path or g_path.rstrip("/") == r_path or g_path.startswith(r_path + "/")


def _with_params(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = f"""<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:30em;margin:3em auto}}button{{margin:.5em .5em 0 0}}</style>
</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"""
    return HTMLResponse(doc, status_code=status)


def _authorize_check(request: Request) -> tuple[str | None, str | None, HTMLResponse | None]:
    state = get_state(request)
    q = request.query_params
    if q.get("client_id") != state.config.client_id:
        return None, None, _page("Ошибка", "<p>Неизвестное приложение (client_id).</p>", 400)
    if q.get("response_type") != "code":
        return None, None, _page("Ошибка", "<p>response_type должен быть code.</p>", 400)
    redirect_uri = q.get("redirect_uri") or None
    if redirect_uri is not None and not redirect_uri_allowed(redirect_uri, state.config.redirect_uri):
        return None, None, _page("Ошибка", "<p>bad redirect url</p>", 400)
    return redirect_uri, q.get("state"), None


@router.get("/oauth/authorize", response_model=None)
async def authorize_page(request: Request) -> Response:
    _, _, problem = _authorize_check(request)
    if problem is not None:
        return problem
    state = get_state(request)
    preselect = request.query_params.get("login") or "admin@sandbox.by"
    choices = []
    for login, user in state.store.users.items():
        checked = " checked" if login == preselect else ""
        who = "работодатель" if user.is_employer else "соискатель"
        choices.append(
            f'<label><input type="radio" name="login" value="{html.escape(login)}"{checked}> '
            f"{html.escape(login)} ({who})</label><br>"
        )
    action = "/oauth/authorize?" + html.escape(str(request.query_params), quote=True)
    body = (
        "<p>Приложение <b>rabota-sync</b> запрашивает доступ к вашему аккаунту.</p>"
        f'<form method="post" action="{action}">{"".join(choices)}'
        '<button type="submit" name="decision" value="approve">Продолжить</button>'
        '<button type="submit" name="decision" value="deny">Отказать</button></form>'
    )
    return _page("Вход на rabota.by", body)


@router.post("/oauth/authorize", response_model=None)
async def authorize_submit(request: Request) -> Response:
    redirect_uri, st, problem = _authorize_check(request)
    if problem is not None:
        return problem
    state = get_state(request)
    form = await request.form()
    decision = str(form.get("decision") or "")
    login = str(form.get("login") or "")
    target = redirect_uri or state.config.redirect_uri
    extra = {"state": st} if st is not None else {}
    if decision == "deny":
        return RedirectResponse(_with_params(target, {"error": "access_denied", **extra}), status_code=302)
    if decision != "approve":
        return _page("Ошибка", "<p>decision должен быть approve или deny.</p>", 400)
    if login not in state.store.users:
        return _page("Ошибка", "<p>Неверный логин.</p>", 400)
    code = AuthCode(secrets.token_hex(32).upper(), login, state.config.client_id, redirect_uri, time.time())
    state.codes[code.code] = code
    return RedirectResponse(_with_params(target, {"code": code.code, **extra}), status_code=302)


# -- token endpoint ------------------------------------------------------------------------------------


def _check_client(state: SandboxState, client_id: str | None, client_secret: str | None) -> None:
    if client_id != state.config.client_id or client_secret != state.config.client_secret:
        raise TokenError("invalid_client", "client_id or client_secret not found")


def _user_token_body(state: SandboxState, tok: Token) -> dict[str, object]:
    assert tok.expires_at is not None
    return {
        "access_token": tok.access,
        "token_type": "bearer",
        "expires_in": max(0, int(tok.expires_at - time.time())),
        "refresh_token": tok.refresh,
    }


@router.post("/token")
@router.post("/oauth/token")
async def token(request: Request) -> JSONResponse:
    state = get_state(request)
    ctype = request.headers.get("content-type", "")
    form: dict[str, str] = {}
    if ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith("multipart/form-data"):
        raw = await request.form()
        form = {k: str(v) for k, v in raw.items()}
    grant = form.get("grant_type", "")
    now = time.time()
    headers = {"X-Request-Id": request_id_of(request)}
    if grant == "authorization_code":
        _check_client(state, form.get("client_id"), form.get("client_secret"))
        code = state.codes.get(form.get("code", ""))
        if code is None or code.client_id != form.get("client_id"):
            raise TokenError("invalid_request", "code not found")
        if code.revoked:
            raise TokenError("invalid_grant", "code was revoke")
        if code.used:
            raise TokenError("invalid_grant", "code has already been used")
        if now - code.created_at > float(state.knobs["auth_code_ttl_s"]):
            raise TokenError("invalid_grant", "code expired")
        given = form.get("redirect_uri") or None
        expected = code.redirect_uri or state.config.redirect_uri
        if (code.redirect_uri is not None and given != code.redirect_uri) or (given is not None and given != expected):
            raise TokenError("invalid_request", "bad redirect url")
        code.used = True
        tok = state.issue_user_token(code.login, code.client_id)
        return JSONResponse(_user_token_body(state, tok), headers=headers)
    if grant == "refresh_token":
        raw_rt = form.get("refresh_token", "")
        if not raw_rt:
            raise TokenError("invalid_request", "token is empty")
        if "client_id" in form or "client_secret" in form:
            _check_client(state, form.get("client_id"), form.get("client_secret"))
        old = state.refresh_index.get(raw_rt)
        if old is None:
            if not raw_rt.startswith("USER") or len(raw_rt) != 64:
                raise TokenError("invalid_grant", "bad token")
            raise TokenError("invalid_request", "token not found")
        if old.refreshed:
            raise TokenError("invalid_grant", "token has already been refreshed")
        if old.revoked == "deactivated":
            raise TokenError("invalid_grant", "token deactivated")
        if old.revoked is not None:
            raise TokenError("invalid_grant", "token was revoked")
        assert old.expires_at is not None and old.login is not None
        if now < old.expires_at:
            raise TokenError("invalid_grant", "token not expired")
        old.refreshed = True
        tok = state.issue_user_token(old.login, old.client_id)
        return JSONResponse(_user_token_body(state, tok), headers=headers)
    if grant == "client_credentials":
        _check_client(state, form.get("client_id"), form.get("client_secret"))
        last = state.app_token_issued_at.get(state.config.client_id)
        if last is not None and now - last < 300:
            raise TokenError("forbidden", "app token refresh too early", status=403)
        tok = state.issue_app_token(state.config.client_id)
        return JSONResponse({"access_token": tok.access, "token_type": "bearer"}, headers=headers)
    raise TokenError("unsupported_grant_type", "unsupported grant_type")


@router.delete("/token", status_code=204, response_model=None)
async def invalidate_token(request: Request) -> Response:
    """`DELETE /token` (operation `invalidate-token` of the current spec). With the knob
    `old_invalidate_path_only` the emulator behaves like a server that only knows the old path: 404."""
    if get_state(request).knobs.get("old_invalidate_path_only"):
        raise not_found()
    return _invalidate(request)


@router.delete("/oauth/token", status_code=204, response_model=None)
async def invalidate_token_old_path(request: Request) -> Response:
    """The deprecated `DELETE /oauth/token`, still answered as before."""
    return _invalidate(request)


def _invalidate(request: Request) -> Response:
    tok, user = authenticate(request, employer=False)
    assert user is not None
    tok.revoked = "revoked"
    get_state(request).drop_subscriptions(user.user_id, tok.client_id)
    return Response(status_code=204, headers={"X-Request-Id": request_id_of(request)})
