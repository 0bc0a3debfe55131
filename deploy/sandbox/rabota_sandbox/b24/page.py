"""The portal page a person opens in a browser: the sandbox portals, the app installed and opened in
an iframe the way Bitrix24 does it, CRM lists and cards with files and timeline activities; plus the
BX24 JS library emulation at `/api/v1/`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .control import entity_dump
from .crm_store import MULTI_FIELDS, TITLES
from .portal import CONTACT, DEAL, LEAD, Portal, SandboxState

HERE = Path(__file__).parent
HIDDEN = {"ENTITY_TYPE_ID", "HAS_PHONE", "HAS_EMAIL", "HAS_IMOL", "STATUS_SEMANTIC_ID", "STAGE_SEMANTIC_ID",
          "IS_MANUAL_OPPORTUNITY", "MODIFY_BY_ID", "CREATED_BY_ID", "ASSIGNED_BY_ID", "OPENED", "IS_NEW"}
STATIC = {"b24.css": "text/css; charset=utf-8", "portal.js": "application/javascript; charset=utf-8"}


def tr(value: Any) -> str:
    """textWithTranslation: current language (ru), then en, then the first entry."""
    if isinstance(value, dict):
        for k in ("ru", "en"):
            if isinstance(value.get(k), str):
                return str(value[k])
        return str(next(iter(value.values()), ""))
    return "" if value is None else str(value)


_BB_URL = re.compile(r"\[url=((?:/|https?://)[A-Za-z0-9/?=&;._:%-]{0,300})\](.{0,300}?)\[/url\]", re.IGNORECASE)
_BB_SIMPLE = {"[b]": "<b>", "[/b]": "</b>", "[br]": "<br>", "[i]": "<i>", "[/i]": "</i>"}


def text_html(value: Any, multiline: Any = False) -> Markup:
    """Escaped text; the few BB-codes chats and comments carry (`[b]`, `[i]`, `[br]`, `[url=…]…[/url]`) as HTML."""
    s = str(escape(tr(value)))
    for code, tag in _BB_SIMPLE.items():
        s = re.sub(re.escape(code), tag, s, flags=re.IGNORECASE)
    s = _BB_URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(2)}</a>', s)
    if multiline in (True, 1, "1", "true", "Y", "y"):
        s = s.replace("\n", "<br>")
    return Markup(s)


def crm_link(code: str, uri: str) -> str:
    """Relative Bitrix URIs of CRM cards map to the sandbox cards; anything else is kept."""
    m = re.match(r"^/crm/(lead|deal|contact)/details/(\d+)/?", uri)
    if m:
        etid = {"lead": LEAD, "deal": DEAL, "contact": CONTACT}[m.group(1)]
        return f"/portal/{code}/crm/{etid}/{m.group(2)}/"
    m = re.match(r"^/crm/type/(\d+)/details/(\d+)/?", uri)
    if m:
        return f"/portal/{code}/crm/{m.group(1)}/{m.group(2)}/"
    return uri


def entity_types(portal: Portal) -> list[dict[str, Any]]:
    out = []
    if portal.crm_mode == 1:
        out.append({"id": LEAD, "title": "Лиды"})
    out.append({"id": DEAL, "title": "Сделки"})
    for t in portal.spa_types:
        out.append({"id": t.entity_type_id, "title": t.title})
    out.append({"id": CONTACT, "title": "Контакты"})
    return out


def stage_name(portal: Portal, rec: dict[str, Any]) -> str:
    sid = rec.get("STAGE_ID") or rec.get("STATUS_ID")
    for r in portal.statuses:
        if r["STATUS_ID"] == sid:
            return str(r["NAME"])
    return str(sid or "")


def entity_title(rec: dict[str, Any]) -> str:
    if rec.get("TITLE"):
        return str(rec["TITLE"])
    name = " ".join(str(rec.get(k) or "") for k in ("LAST_NAME", "NAME", "SECOND_NAME")).strip()
    return name or f"#{rec.get('ID')}"


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["tr"] = tr
    env.globals["text_html"] = text_html
    env.globals["crm_link"] = crm_link

    def render(name: str, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx))

    def common(p: Portal) -> dict[str, Any]:
        return {"portal": p, "types": entity_types(p), "users": sorted(p.users.values(), key=lambda u: u.id),
                "app_url": state.config.app_url}

    @router.get("/")
    async def index() -> HTMLResponse:
        return render("index.html", portals=list(state.portals.values()), app_url=state.config.app_url)

    @router.get("/portal/{code}")
    async def portal_noslash(code: str) -> Response:
        return RedirectResponse(f"/portal/{code}/")

    @router.get("/portal/{code}/")
    async def portal_home(code: str) -> Response:
        p = state.portals.get(code)
        if p is None:
            return HTMLResponse("Портал не найден", status_code=404)
        return render("portal.html", **common(p), section="app")

    @router.get("/portal/{code}/openlines/")
    async def openlines(code: str, chat: int = 0) -> Response:
        """The portal's Open Lines: dialogues, one dialogue's messages and a reply box (the operator is the user
        chosen in the header)."""
        from .methods_openlines import dialogue_json

        p = state.portals.get(code)
        if p is None:
            return HTMLResponse("Портал не найден", status_code=404)
        dialogues = [dialogue_json(p, d) for d in reversed(list(p.openlines.chats.values()))]
        current = next((d for d in dialogues if d["chat_id"] == chat), dialogues[0] if dialogues else None)
        return render("openlines.html", **common(p), section="openlines", lines=list(p.openlines.lines.values()),
                      dialogues=dialogues, current=current)

    @router.get("/online/")
    async def online(IM_DIALOG: str = "") -> Response:
        """Bitrix24's link to a dialogue (`/online/?IM_DIALOG=chat{id}`), as a timeline comment carries it."""
        chat_id = int(IM_DIALOG[4:]) if IM_DIALOG.startswith("chat") and IM_DIALOG[4:].isdigit() else 0
        for p in state.portals.values():
            if chat_id in p.openlines.chats:
                return RedirectResponse(f"/portal/{p.code}/openlines/?chat={chat_id}")
        return HTMLResponse("Диалог не найден", status_code=404)

    @router.get("/portal/{code}/crm/{etid}/")
    async def crm_list(code: str, etid: int) -> Response:
        p = state.portals.get(code)
        if p is None or etid not in p.entities:
            return HTMLResponse("Не найдено", status_code=404)
        rows = list(reversed(entity_dump(state, p, etid)))
        acts: dict[int, int] = {}
        for a in p.activities.values():
            if a["ownerTypeId"] == etid:
                acts[a["ownerId"]] = acts.get(a["ownerId"], 0) + 1
        title = next((t["title"] for t in entity_types(p) if t["id"] == etid), str(etid))
        return render("crm_list.html", **common(p), section=etid, etid=etid, title=title, rows=rows,
                      stage_name=lambda r: stage_name(p, r), entity_title=entity_title, acts=acts,
                      user_name=lambda uid: _user_name(p, uid))

    @router.get("/portal/{code}/crm/{etid}/{eid}/")
    async def crm_item(code: str, etid: int, eid: int) -> Response:
        p = state.portals.get(code)
        if p is None or etid not in p.entities or eid not in p.entities[etid]:
            return HTMLResponse("Не найдено", status_code=404)
        rec = next(r for r in entity_dump(state, p, etid) if r["ID"] == eid)
        ufs = {u.field_name: u for u in p.ufs_for(etid)}
        std_rows = []
        for k, v in rec.items():
            if k in ufs or k in MULTI_FIELDS or k in HIDDEN or v in (None, "", [], {}):
                continue
            std_rows.append((TITLES.get(k, k), k, v))
        uf_rows = [(u.label_text(), u.field_name, u.user_type_id, rec.get(u.field_name)) for u in ufs.values()]
        multi = [(m, rec.get(m) or []) for m in MULTI_FIELDS if rec.get(m)]
        activities = sorted((a for a in p.activities.values() if a["ownerTypeId"] == etid and a["ownerId"] == eid),
                            key=lambda a: a["id"], reverse=True)
        comments = []
        for c in sorted((c for c in p.comments if c["entityTypeId"] == etid and c["entityId"] == eid),
                        key=lambda c: c["id"], reverse=True):
            files = [p.files[f] for f in c["files"] if f in p.files]
            comments.append({**c, "files": files, "author": _user_name(p, c["authorId"])})
        links = []
        for other_etid in p.entities:
            for r in p.entities[other_etid].values():
                from_lead = etid == LEAD and r.get("LEAD_ID") == eid
                of_contact = etid == CONTACT and eid in (r.get("CONTACT_IDS") or [r.get("CONTACT_ID")])
                if other_etid != etid and (from_lead or of_contact):
                    links.append((other_etid, r["ID"], entity_title(r)))
        title = next((t["title"] for t in entity_types(p) if t["id"] == etid), str(etid))
        # The apps bound to the card's activity editor (CRM_{TYPE}_DETAIL_ACTIVITY): a click opens the app in a
        # slider with PLACEMENT_OPTIONS {"ID": <entity id>}.
        type_code = {1: "LEAD", 2: "DEAL", 3: "CONTACT", 4: "COMPANY"}.get(etid, f"DYNAMIC_{etid}")
        placements = [pl for pl in p.placements if pl["placement"] == f"CRM_{type_code}_DETAIL_ACTIVITY"]
        return render("crm_item.html", **common(p), section=etid, etid=etid, type_title=title, rec=rec,
                      title=entity_title(rec), stage=stage_name(p, rec), std_rows=std_rows, uf_rows=uf_rows,
                      multi=multi, activities=activities, links=links, comments=comments,
                      assigned=_user_name(p, rec.get("ASSIGNED_BY_ID")), placements=placements)

    @router.get("/_static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            return Response("Not found", status_code=404)
        return Response((HERE / "static" / name).read_text(encoding="utf-8"), media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache"})

    @router.get("/api/v1/")
    @router.get("/api/v1")
    async def bx24(request: Request) -> Response:
        return Response((HERE / "bx24.js").read_text(encoding="utf-8"),
                        media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"})

    return router


def _user_name(p: Portal, uid: Any) -> str:
    u = p.users.get(uid) if isinstance(uid, int) else None
    return f"{u.name} {u.last_name}" if u else str(uid or "")
