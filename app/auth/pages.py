"""The few HTML pages the authorization server shows people: sign in and consent, errors, and the demo
client's callback. Plain HTML forms: labelled fields, no JavaScript, readable without CSS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

from app.auth.principal import SCOPE_DESCRIPTIONS, Scope

# The authorization request travels through the form in hidden fields.
OAUTH_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No scripts at all; inline styles only. (No form-action: the POST answers with a redirect to the client.)
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input[type=email], input[type=password] { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
button { margin-top: 1.25rem; margin-right: .5rem; padding: .5rem 1rem; font-size: 1rem; }
.error { border: 2px solid #b00020; padding: .5rem .75rem; color: #b00020; }
code, pre { background: #f3f3f3; padding: .1rem .3rem; overflow-wrap: anywhere; white-space: pre-wrap; }
"""


def _page(title: str, body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} - citymarket</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def _scope_items(scopes: Sequence[str]) -> str:
    items = []
    for scope in scopes:
        try:
            description = SCOPE_DESCRIPTIONS[Scope(scope)]
        except ValueError:
            description = scope
        items.append(f"<li><code>{escape(scope)}</code>: {escape(description)}</li>")
    return "\n".join(items) or "<li>no write access: only your identity and roles</li>"


def login_page(
    *,
    client_name: str,
    scopes: Sequence[str],
    params: Mapping[str, str],
    form_token: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in OAUTH_FIELDS
        if params.get(name)
    )
    error_html = (
        f'<p class="error" role="alert" id="form-error"><strong>Not signed in:</strong> {escape(error)}</p>'
        if error
        else ""
    )
    described = ' aria-describedby="form-error"' if error else ""
    invalid = ' aria-invalid="true"' if error else ""
    body = f"""<h1>Sign in to citymarket</h1>
<p><strong>{escape(client_name)}</strong> asks to act for you with these permissions:</p>
<ul>
{_scope_items(scopes)}
</ul>
<p>It only gets those your roles allow.</p>
{error_html}
<form method="post" action="/oauth/authorize">
<input type="hidden" name="form_token" value="{escape(form_token)}">
{hidden}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required
 value="{escape(email)}"{described}{invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}{invalid}>
<div>
<button type="submit" name="action" value="allow">Sign in and allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Deny</button>
</div>
</form>"""
    return _page("Sign in", body, status=status, headers=headers)


def error_page(
    title: str,
    detail: str,
    *,
    status: int = 400,
    retry_link: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    link = f'<p><a href="{escape(retry_link)}">Start again</a></p>' if retry_link else ""
    body = f'<h1>{escape(title)}</h1>\n<p role="alert">{escape(detail)}</p>\n{link}'
    return _page(title, body, status=status, headers=headers)


def demo_callback_page(
    *, code: str | None, state: str | None, error: str | None, token_url: str, client_id: str, redirect_uri: str
) -> HTMLResponse:
    if error or not code:
        return error_page("Sign-in not completed", error or "No authorization code was returned.", status=400)
    command = (
        f"curl -s -X POST {token_url} \\\n"
        f"  -d grant_type=authorization_code -d client_id={client_id} \\\n"
        f"  -d redirect_uri={redirect_uri} \\\n"
        f"  -d code={code} \\\n"
        '  -d code_verifier="$VERIFIER"'
    )
    body = f"""<h1>Authorization code received</h1>
<p>This page belongs to the demo client <code>{escape(client_id)}</code>. Exchange the code (valid a few
minutes, once) for tokens with the PKCE verifier you generated:</p>
<p>code: <code id="code">{escape(code)}</code></p>
<p>state: <code>{escape(state or "")}</code></p>
<pre>{escape(command)}</pre>"""
    return _page("Authorization code", body)
