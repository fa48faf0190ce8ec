"""HTML pages: the form, the session page with its flows, and the ladder fragments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.decode.analysis.conversations import PAGE as TABLE_PAGE
from app.decode.analysis.conversations import QUIET, Conversations, Query
from app.decode.analysis.facts import STATE_TEXT, STATES
from app.decode.explain.catalogue import CATALOGUE
from app.decode.model.codes import FINDING_CODES
from app.decode.model.errors import NotFound, TraceError
from app.decode.model.i18n import N_, gettext
from app.decode.model.memory import trim_heap
from app.store import SessionRecord, new_token

from . import graphs
from .api import OWNER_COOKIE, create_from, store_of
from .ladder import PAGE, QUIET_FINDINGS, ladder_rows, rendered
from .pagecache import PageCache, accepts_gzip
from .security import check_same_origin, check_token, secure_cookie
from .templating import Renderer
from .upload import read_submission

router = APIRouter(include_in_schema=False)  # pages: not the API

EXAMPLE = Path(__file__).resolve().parent / "example.txt"


def _listed(f: dict[str, Any], lang: str) -> dict[str, Any]:
    """A connection's row in the session page's table, from the stored JSON."""
    return {
        "id": f["id"],
        "client": f["sides"]["client"],
        "server": f["sides"]["server"],
        "packet_count": f["packet_count"],
        "bytes": f["bytes"],
        "duration": f["duration"],
        "ending": f["ending"][lang],
        "ended_by": f["ended_by"],
        "roles_from": f["roles_from"],
        "scaling": f["window_scaling"],
        # sessions stored before these fields existed lack them
        "state": f.get("state"),
        "state_text": gettext(lang, STATE_TEXT[f["state"]]) if f.get("state") else None,
        "history": f.get("history"),
        "irtt_ms": f.get("irtt_ms"),
        "rtt": f.get("rtt_ms"),
        "vantage": f.get("vantage"),
        "path_rtt": (f.get("path_rtt_ms") or {}).get("median"),
        "findings": [
            {"code": code, "count": k, "title": _title(code, lang)}
            for code, k in (f.get("findings") or {}).items()
        ],
        "narrative": (f.get("narrative") or {}).get(lang),
    }


def _shown(f: dict[str, Any], lang: str) -> dict[str, Any]:
    """The connection on show: its row plus the stored negotiation (none in sessions stored
    before it existed)."""
    negotiation = [{"text": n[lang], "rfc": n["rfc"]} for n in f.get("negotiation", [])]
    return {**_listed(f, lang), "negotiation": negotiation}


def _title(code: str, lang: str) -> str:
    e = CATALOGUE.get(code)
    if e is None:
        return code
    return e.title_in(lang)


def session_path(sid: str) -> str:
    return f"/s/{sid}"


def _absolute(request: Request, path: str) -> str:
    """The configured base URL and ``path``, or ``path`` alone (the page completes it from
    the address the browser shows): the Host header is never echoed."""
    base: str | None = request.app.state.settings.base_url
    return base + path if base else path


def renderer(request: Request) -> Renderer:
    r: Renderer = request.app.state.renderer
    return r


DAY = 86400
EXPIRY_CHOICES = (
    (DAY, N_("1 day")),
    (30 * DAY, N_("30 days")),
    (0, N_("until I delete it")),
)


@router.get("/", response_class=HTMLResponse, name="index")
async def index(request: Request) -> Response:
    settings = request.app.state.settings
    example = EXAMPLE.read_text() if request.query_params.get("example") else ""
    choices = [
        (s, label)
        for s, label in EXPIRY_CHOICES
        if not settings.max_expiry or (s and s <= settings.max_expiry)
    ]
    ctx = {
        "example": example,
        "expiry_choices": choices,
        "expiry_default": settings.default_expiry,
    }
    return renderer(request).page(request, "index.html", ctx)


@router.post("/sessions", name="submit")
async def submit(request: Request) -> Response:
    """The form: a same-origin request carrying this browser's CSRF token."""
    settings = request.app.state.settings
    check_same_origin(request, settings.base_url)
    request.app.state.create_limit.check(request)
    sub = await read_submission(request, settings.max_input, settings.body_timeout)
    try:
        check_token(request, sub.csrf)
    except TraceError:
        sub.data.close()
        raise
    token = request.cookies.get(OWNER_COOKIE) or new_token()
    rec = await create_from(request, sub, token)
    url = session_path(rec.id)
    if request.headers.get("hx-request") == "true":
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    response.background = BackgroundTask(trim_heap)  # the upload's bytes, back to the system
    response.set_cookie(
        OWNER_COOKIE,
        token,
        max_age=365 * 86400,
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    return response


def _session_context(
    request: Request, rec: SessionRecord, flow_id: int | None
) -> dict[str, object]:
    """What the session page shows: the connection list and one window of one connection,
    read from the stored columns (never the whole analysis)."""
    from .templating import choose_lang

    store = store_of(request)
    sid = rec.id
    lang = choose_lang(request)
    start = _start(request)
    meta = store.meta(sid)
    flow = shown = before = None
    if meta.flow_count:
        fid = flow_id or 1
        flow = store.window(sid, fid, max(start - 1, 0), PAGE + (start > 0))
        if start > 0 and flow.packets:  # the packet before: the first row's gap
            before = flow.packets[0].time
            flow = replace(flow, packets=flow.packets[1:], info=flow.info[1:], offset=start)
        shown = _shown(store.flow_summary(sid, fid), lang)
    return {
        "rec": rec,
        "source": store.source(sid),
        "table": _table_context(request, sid, flow_id, lang) if meta.flow_count else None,
        "flow": shown,
        "rows": rendered(ladder_rows(flow, lang, before), lang, sid, flow.id) if flow else [],
        "start": start,
        "page": PAGE,
        "permalink": _absolute(request, session_path(sid)),
        "permalink_path": session_path(sid),
        "is_owner": rec.owned_by(request.cookies.get(OWNER_COOKIE)),
    }


def table_query(request: Request) -> Query:
    """The conversations table's filter, order and page, from the URL."""
    p = request.query_params

    def number(name: str) -> int:
        v = p.get(name, "")
        return int(v) if v.isdigit() and len(v) < 9 else 0

    return Query(
        q=p.get("q", ""),
        state=p.get("state", ""),
        finding=p.get("finding", ""),
        reused=p.get("reused") == "1",
        sort=p.get("sort", "id"),
        desc=p.get("desc") == "1",
        page=number("cp"),
    ).normal()


def _table_context(request: Request, sid: str, flow_id: int | None, lang: str) -> dict[str, object]:
    """One page of the conversations table, with what its controls need."""
    table: Conversations = store_of(request).conversations(sid)
    query = table_query(request)
    page = table.page(query)
    base = f"{session_path(sid)}/f/{flow_id}" if flow_id else session_path(sid)
    states = np.bincount(table.cols["state"], minlength=len(STATES))

    def url(path: str, **change: Any) -> str:
        params = query.params(**change)
        return path + ("?" + urlencode(params) if params else "")

    return {
        "rows": [table.row(int(i)) for i in page.rows],
        "page": page,
        "query": query,
        "url": url,
        "base": base,
        "first_row": page.page * TABLE_PAGE + 1,
        "states": [
            (STATES[i], int(k), gettext(lang, STATE_TEXT[STATES[i]]))
            for i, k in enumerate(states)
            if k
        ],
        "findings": [
            {"code": code, "title": _title(code, lang), "packets": k[0], "connections": k[1]}
            for code, k in table.totals.items()
        ],
        "titles": {code: _title(code, lang) for code in table.totals},
        "reused": int((table.reuse()[0] > 1).sum()),
        "origin": table.origin(),
        "quiet": QUIET,
    }


def _start(request: Request) -> int:
    try:
        return max(0, int(request.query_params.get("from", "0")))
    except ValueError:
        return 0


def _session_response(
    request: Request, sid: str, flow_id: int | None, partial: str | None
) -> Response:
    """The session page (or its htmx fragment), from the page cache for everyone but the
    owner; the store is asked for the session first, so a deleted one is never served."""
    from .templating import choose_lang, choose_theme

    rec = store_of(request).get(sid)
    r = renderer(request)
    if rec.status == "processing":
        return r.page(request, "processing.html", {"rec": rec}, partial="_progress.html")
    if rec.status == "failed":
        raise rec.failure()
    if request.headers.get("hx-target") == "conversations":
        partial = "_conversations.html"  # sorting, filtering, paging the table
    template = r.template_for(request, "session.html", partial)
    lang, theme = choose_lang(request), choose_theme(request)
    key = (sid, flow_id, _start(request), lang, theme, template, table_query(request))
    return _cached(request, rec, key, template, lambda: _session_context(request, rec, flow_id))


def _cached(
    request: Request,
    rec: SessionRecord,
    key: tuple[Any, ...],
    template: str,
    context: Callable[[], dict[str, object]],
) -> Response:
    """``template`` rendered with ``context()``, from the page cache for everyone but the
    owner (whose page has the owner's controls)."""
    r = renderer(request)
    if rec.owned_by(request.cookies.get(OWNER_COOKIE)):
        return r.page(request, template, context())
    cache: PageCache = request.app.state.page_cache
    page = cache.get(key)
    if page is None:
        with cache.rendering(key):
            page = cache.peek(key)
            if page is None:
                response = r.page(request, template, context())
                cache.put(key, bytes(response.body))
                return response
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        out = HTMLResponse(page.gzipped, headers={"Content-Encoding": "gzip"})
    else:
        out = HTMLResponse(page.body)
    out = r.finish(request, out)
    out.headers["Vary"] += ", Accept-Encoding"
    return out


def _rows_context(
    request: Request, rec: SessionRecord, flow_id: int, start: int, up: bool
) -> dict[str, object]:
    """One window of a connection's ladder rows, to add above or below the ones shown."""
    from .templating import choose_lang

    store = store_of(request)
    flow = store.window(rec.id, flow_id, max(start - 1, 0), PAGE + (start > 0))
    before = phase = None
    if start > 0 and flow.packets:  # the packet before: the first row's gap and phase
        before, phase = flow.packets[0].time, flow.info[0].phase
        flow = replace(flow, packets=flow.packets[1:], info=flow.info[1:], offset=start)
    lang = choose_lang(request)
    return {
        "rec": rec,
        "flow": {"id": flow_id, "packet_count": flow.packet_count},
        "rows": rendered(
            ladder_rows(flow, lang, before, None if up else phase), lang, rec.id, flow_id
        ),
        "start": start,
        "page": PAGE,
        "direction": "up" if up else "down",
    }


@router.get("/s/{sid}", response_class=HTMLResponse, name="session_page")
async def session_page(request: Request, sid: str) -> Response:
    return await run_in_threadpool(_session_response, request, sid, None, None)


@router.get("/s/{sid}/f/{flow_id}/rows", response_class=HTMLResponse, name="rows")
async def rows(request: Request, sid: str, flow_id: int, up: bool = False) -> Response:
    """The ladder's next window (``?from=``, a multiple of the window size) as rows to
    append, or with ``up=1`` the one before to prepend."""
    from .templating import choose_lang

    def render() -> Response:
        rec = store_of(request).ready(sid)
        start = _start(request) // PAGE * PAGE
        key = (sid, flow_id, start, choose_lang(request), "_rows.html", up)
        return _cached(
            request, rec, key, "_rows.html", lambda: _rows_context(request, rec, flow_id, start, up)
        )

    return await run_in_threadpool(render)


@router.get("/s/{sid}/progress", response_class=HTMLResponse, name="progress")
async def progress(request: Request, sid: str) -> Response:
    """The progress fragment the processing page polls; once the analysis is over, htmx is
    told to load the session page (the result, or the error)."""
    rec = await run_in_threadpool(store_of(request).get, sid)
    if rec.status != "processing":
        return Response(status_code=204, headers={"HX-Redirect": session_path(sid)})
    return renderer(request).page(request, "_progress.html", {"rec": rec})


@router.get("/s/{sid}/f/{flow_id}", response_class=HTMLResponse, name="flow_page")
async def flow_page(request: Request, sid: str, flow_id: int) -> Response:
    return await run_in_threadpool(_session_response, request, sid, flow_id, "_flow.html")


def _window_of(sid: str, flow_id: int, offset: int, n: int, extra: str = "") -> str:
    """The page of connection ``flow_id`` whose window holds position ``offset``, at
    packet ``n`` (``extra``: more of the query). Windows start at multiples of PAGE, so
    every link to one is the same URL (and the same cached page)."""
    start = offset // PAGE * PAGE
    query = "&".join(q for q in (f"from={start}" if start else "", extra) if q)
    return f"{session_path(sid)}/f/{flow_id}{'?' + query if query else ''}#p{n}"


@router.get("/s/{sid}/at/{n}", name="packet_at")
async def packet_at(request: Request, sid: str, n: int) -> Response:
    """Packet ``n`` on its ladder: the window of its connection that holds it. (A ``#pN``
    link whose packet is not on the page it opened comes here.)"""
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    flow_id, offset = await run_in_threadpool(store.locate, sid, n)
    return RedirectResponse(_window_of(sid, flow_id, offset, n), status_code=303)


@router.get("/s/{sid}/f/{flow_id}/find", name="find")
async def find(
    request: Request,
    sid: str,
    flow_id: int,
    code: str = "",
    after: int | None = None,
    before: int | None = None,
) -> Response:
    """The next packet of connection ``flow_id`` with finding ``code`` (without a code:
    any finding that warns) after packet ``after`` (the first one without it), or the one
    before packet ``before``. When there is none, the packet asked from, with ``?none=``
    saying so."""
    codes = [code] if code else [c for c in FINDING_CODES if c not in QUIET_FINDINGS]
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    at, forward, origin = -1, True, None
    for n, fwd in ((after, True), (before, False)):
        if n is not None:
            fid, at = await run_in_threadpool(store.locate, sid, n)
            if fid != flow_id:
                raise NotFound(f"packet {n} is not in connection #{flow_id}")
            forward, origin = fwd, (n, at)
            break
    pos = await run_in_threadpool(store.find, sid, flow_id, codes, at, forward=forward)
    if pos is None:
        if origin is None:
            raise NotFound(f"connection #{flow_id} has no packet with {code or 'a finding'}")
        n, at = origin
        none = f"none={'next' if forward else 'previous'}"
        return RedirectResponse(_window_of(sid, flow_id, at, n, none), status_code=303)
    window = await run_in_threadpool(store.window, sid, flow_id, pos, 1)
    n = window.packets[0].n
    return RedirectResponse(_window_of(sid, flow_id, pos, n), status_code=303)


@router.get("/s/{sid}/find", name="find_in_capture")
async def find_in_capture(request: Request, sid: str, code: str) -> Response:
    """The first packet with finding ``code`` in the connection that started first among
    those that have it (from the capture-wide findings list)."""
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    table = await run_in_threadpool(store.conversations, sid)
    if code not in table.totals:
        raise NotFound(f"no packet in this session has the finding {code!r}")
    with_it = np.flatnonzero(table.match(Query(finding=code)))
    first = int(with_it[np.argmin(np.nan_to_num(table.cols["start"][with_it], nan=np.inf))])
    pos = await run_in_threadpool(store.find, sid, first + 1, [code], -1)
    if pos is None:  # the table and the packets disagree: should not happen
        raise NotFound(f"connection #{first + 1} has no packet with {code}")
    window = await run_in_threadpool(store.window, sid, first + 1, pos, 1)
    return RedirectResponse(_window_of(sid, first + 1, pos, window.packets[0].n), status_code=303)


def _graph(request: Request, sid: str, flow_id: int, kinds: tuple[str, ...]) -> list[str]:
    from .templating import choose_lang

    store = store_of(request)
    store.ready(sid)
    tsg = "tsg" in kinds
    cols = store.flow_columns(sid, flow_id, graphs.COLUMNS, sacks=tsg)
    frame = graphs.Frame.of(cols, sid, flow_id, choose_lang(request))
    sacks = graphs.Sacks(cols["sack_at"], cols["sack_left"], cols["sack_right"]) if tsg else None
    return [graphs.render(kind, frame, sacks) for kind in kinds]


@router.get("/s/{sid}/f/{flow_id}/tsg.svg", name="time_sequence")
async def time_sequence(request: Request, sid: str, flow_id: int) -> Response:
    """The connection's time-sequence graph as an SVG document (a picture to keep; its
    marks link to the ladder)."""
    svg = await run_in_threadpool(_graph, request, sid, flow_id, ("tsg",))
    return Response(svg[0], media_type="image/svg+xml")


@router.get("/s/{sid}/f/{flow_id}/graph/{kind}.svg", name="graph")
async def graph(request: Request, sid: str, flow_id: int, kind: str) -> Response:
    """One of the connection's graphs (``graphs.KINDS``) as an SVG document."""
    if kind not in graphs.KINDS:
        raise NotFound(f"there is no {kind!r} graph; there are {', '.join(graphs.KINDS)}")
    svg = await run_in_threadpool(_graph, request, sid, flow_id, (kind,))
    return Response(svg[0], media_type="image/svg+xml")


@router.get("/s/{sid}/f/{flow_id}/graphs", response_class=HTMLResponse, name="graphs")
async def graph_fragment(request: Request, sid: str, flow_id: int) -> Response:
    """The graphs inline (htmx loads them when their section is opened)."""
    svgs = await run_in_threadpool(_graph, request, sid, flow_id, graphs.KINDS)
    ctx = {"svgs": list(zip(graphs.KINDS, svgs, strict=True)), "sid": sid, "flow_id": flow_id}
    return renderer(request).page(request, "_graphs.html", ctx)


@router.get("/s/{sid}/f/{flow_id}/time", name="at_time")
async def at_time(
    request: Request, sid: str, flow_id: int, t: float = 0.0, until: float | None = None
) -> Response:
    """The ladder from ``t`` seconds after the connection's first packet (a range dragged
    across a graph): the window holding the first packet at or after ``t``, with the
    packets up to ``until`` marked (``?span=first-last``)."""
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    cols = await run_in_threadpool(store.flow_columns, sid, flow_id, ("row", "time"))
    times = cols["time"].astype(float)
    known = np.flatnonzero(~np.isnan(times))
    if not len(known):
        raise NotFound(f"connection #{flow_id} has no packet times")
    rel = times[known] - times[known].min()
    a = min(int(np.searchsorted(rel, t, side="left")), len(known) - 1)
    b = max(a, int(np.searchsorted(rel, until if until is not None else t, side="right")) - 1)
    first, last = int(cols["row"][known[a]]) + 1, int(cols["row"][known[b]]) + 1
    extra = f"span={first}-{last}" if last > first else ""
    return RedirectResponse(_window_of(sid, flow_id, int(known[a]), first, extra), status_code=303)


@router.get("/s/{sid}/export.json", name="export")
async def export(request: Request, sid: str) -> Response:
    """The session's JSON (as ``GET /api/sessions/{id}``), streamed, as a download."""
    store = store_of(request)
    await run_in_threadpool(store.ready, sid)
    return StreamingResponse(
        iterate_in_threadpool(store.stream_json(sid)),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="tcpladder-{sid}.json"'},
    )


@router.post("/s/{sid}/delete", name="delete")
async def delete(request: Request, sid: str) -> Response:
    check_same_origin(request, request.app.state.settings.base_url)
    form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
    token = form.get("csrf")
    check_token(request, token if isinstance(token, str) else None)
    await run_in_threadpool(store_of(request).delete, sid, request.cookies.get(OWNER_COOKIE))
    request.app.state.page_cache.drop(sid)
    url = "/?deleted=1"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post("/s/{sid}/edit", name="edit")
async def edit(request: Request, sid: str) -> Response:
    """The owner's title and note, from the session page's form."""
    check_same_origin(request, request.app.state.settings.base_url)
    form = await request.form(max_files=0, max_fields=4, max_part_size=16 * 1024)
    token = form.get("csrf")
    check_token(request, token if isinstance(token, str) else None)
    title, note = form.get("title"), form.get("note")
    await run_in_threadpool(
        store_of(request).set_note,
        sid,
        request.cookies.get(OWNER_COOKIE),
        title=title if isinstance(title, str) else "",
        note=note if isinstance(note, str) else "",
    )
    request.app.state.page_cache.drop(sid)
    return RedirectResponse(session_path(sid), status_code=303)


@router.get("/s/{sid}/p/{n}", response_class=HTMLResponse, name="packet_page")
async def packet_page(request: Request, sid: str, n: int) -> Response:
    store = store_of(request)
    rec = await run_in_threadpool(store.ready, sid)
    detail = await run_in_threadpool(store.detail, sid, n)
    ctx = {"rec": rec, "n": n, "detail": detail}
    return renderer(request).page(request, "packet.html", ctx, partial="_packet.html")
