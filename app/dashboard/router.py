"""The dashboard's pages (`/`, `/cities/{id}`, `/solutions/{id}`, `/search`, `/hubs/{id}`,
`/challenges/{id}`), its one form that writes (save a match run) and sign-in / sign-out.

Pages are sync routes like REST's: the same session dependency, the services called with the principal of
the signed-in person (or ANONYMOUS), a service's 404 or 403 rendered as a page. Every form that posts
carries a CSRF token bound to the session cookie (`app.auth.csrf.FormTokens`, as the login form)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth.deps import get_auth_state
from app.auth.router import FormDep
from app.auth.state import AuthState
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import Problem
from app.core.ids import Id
from app.core.routing import api_router
from app.dashboard import signin, views
from app.dashboard.charts import number
from app.identity.models import User

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["number"] = number
templates.env.filters["percent"] = views.percent
templates.env.globals["highlight"] = views.highlight
templates.env.filters["unit"] = views.unit_symbol
templates.env.filters["maybe_number"] = views.maybe_number

# Pages may load the dashboard's stylesheet and nothing else: no scripts, no frames, no third parties.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = api_router(include_in_schema=False)
AuthDep = Annotated[AuthState, Depends(get_auth_state)]


def get_viewer(request: Request, session: SessionDep, auth: AuthDep) -> signin.Viewer:
    viewer = signin.viewer(request, session, auth)
    if viewer.signed_in and viewer.principal.user_id is not None:
        user = session.get(User, viewer.principal.user_id)
        if user is not None:
            return signin.Viewer(viewer.principal, viewer.key, user.name)
    return viewer


ViewerDep = Annotated[signin.Viewer, Depends(get_viewer)]


def render(
    request: Request, auth: AuthState, viewer: signin.Viewer, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    form_token = auth.form_tokens.issue(viewer.key) if viewer.key else ""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = templates.TemplateResponse(
        request,
        template,
        {**context, "viewer": viewer, "form_token": form_token, "here": here},
        status_code=status,
        headers=PAGE_HEADERS,
    )
    return response


def problem_page(request: Request, auth: AuthState, viewer: signin.Viewer, exc: Problem) -> HTMLResponse:
    return render(request, auth, viewer, "error.html", {"title": exc.title, "detail": exc.detail}, exc.status)


def page(request: Request, auth: AuthState, viewer: signin.Viewer, template: str, build: Any) -> HTMLResponse:
    try:
        context = build()
    except Problem as exc:
        return problem_page(request, auth, viewer, exc)
    return render(request, auth, viewer, template, context)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, auth: AuthDep, viewer: ViewerDep) -> HTMLResponse:
    return page(request, auth, viewer, "home.html", lambda: views.home(session, viewer.principal))


@router.get("/cities/{city_id}", response_class=HTMLResponse)
def city(
    request: Request, session: SessionDep, settings: SettingsDep, auth: AuthDep, viewer: ViewerDep, city_id: Id
) -> HTMLResponse:
    saved = request.query_params.get("saved")
    return page(
        request,
        auth,
        viewer,
        "city.html",
        lambda: {**views.city(session, viewer.principal, settings, city_id), "saved": saved},
    )


@router.get("/solutions/{solution_id}", response_class=HTMLResponse)
def solution(
    request: Request, session: SessionDep, settings: SettingsDep, auth: AuthDep, viewer: ViewerDep, solution_id: Id
) -> HTMLResponse:
    return page(
        request, auth, viewer, "solution.html", lambda: views.solution(session, viewer.principal, settings, solution_id)
    )


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    auth: AuthDep,
    viewer: ViewerDep,
    q: Annotated[str, Query(max_length=500)] = "",
    type: Annotated[list[str] | None, Query()] = None,
    category: Annotated[list[str] | None, Query()] = None,
    country: Annotated[list[str] | None, Query()] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1,
) -> HTMLResponse:
    selected = {"type": type or [], "category": category or [], "country": country or []}
    return page(
        request,
        auth,
        viewer,
        "search.html",
        lambda: {"q": q, **views.search(request.app.state.search, q, selected, page_number)},
    )


@router.get("/hubs/{hub_id}", response_class=HTMLResponse)
def hub(request: Request, session: SessionDep, auth: AuthDep, viewer: ViewerDep, hub_id: Id) -> HTMLResponse:
    return page(request, auth, viewer, "hub.html", lambda: views.hub(session, viewer.principal, hub_id))


@router.get("/challenges/{challenge_id}", response_class=HTMLResponse)
def challenge(
    request: Request, session: SessionDep, auth: AuthDep, viewer: ViewerDep, challenge_id: Id
) -> HTMLResponse:
    return page(
        request, auth, viewer, "challenge.html", lambda: views.challenge(session, viewer.principal, challenge_id)
    )


# ------------------------------------------------------------------------------------------ forms that write


def _form_ok(request: Request, auth: AuthState, form: list[tuple[str, str]]) -> bool:
    token = dict(form).get("form_token")
    return auth.form_tokens.verify(token, request.cookies.get(signin.COOKIE_NAME))


def _expired(request: Request, auth: AuthState, viewer: signin.Viewer) -> HTMLResponse:
    detail = "The form has expired or did not come from this site. Reload the page and try again."
    return problem_page(request, auth, viewer, Problem(detail, status=400, title="Form expired"))


@router.post("/cities/{city_id}/match-runs", response_model=None)
def save_match_run(
    request: Request,
    writer: SessionDep,
    settings: SettingsDep,
    auth: AuthDep,
    viewer: ViewerDep,
    form: FormDep,
    city_id: Id,
) -> Response:
    if not _form_ok(request, auth, form):
        return _expired(request, auth, viewer)
    try:
        run_id = views.save_match_run(
            writer,
            viewer.principal,
            settings,
            city_id,
            dict(form).get("kind", "solutions"),
            request.headers.get("x-request-id", ""),
        )
    except Problem as exc:
        writer.rollback()
        return problem_page(request, auth, viewer, exc)
    writer.commit()
    return RedirectResponse(f"/cities/{city_id}?saved={run_id}#match-runs", status_code=303)


# ------------------------------------------------------------------------------------------------- sign-in


@router.get("/auth/sign-in", response_model=None)
def sign_in(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    key, url = signin.start(request, settings, next)
    response = RedirectResponse(url, status_code=303)
    signin.set_cookie(response, settings, key, signin.PENDING_SECONDS)
    return response


@router.get(signin.CALLBACK_PATH, response_model=None)
def callback(request: Request, auth: AuthDep, viewer: ViewerDep) -> Response:
    query = request.query_params
    try:
        key, return_to = signin.finish(
            request, auth, query.get("code"), query.get("state"), query.get("error_description") or query.get("error")
        )
    except signin.SignInFailed as exc:
        problem = Problem(str(exc), status=400, title="Not signed in")
        return problem_page(request, auth, viewer, problem)
    response = RedirectResponse(return_to, status_code=303)
    signin.set_cookie(response, auth.settings, key, auth.settings.refresh_token_ttl_seconds)
    return response


@router.post("/auth/sign-out", response_model=None)
def sign_out(request: Request, session: SessionDep, auth: AuthDep, viewer: ViewerDep, form: FormDep) -> Response:
    if not _form_ok(request, auth, form):
        return _expired(request, auth, viewer)
    signin.sign_out(request, session, auth)
    session.commit()
    response = RedirectResponse("/", status_code=303)
    signin.clear_cookie(response, auth.settings)
    return response
