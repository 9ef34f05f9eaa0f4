"""FastAPI dependencies for the caller's identity.

`get_principal` is the single entry point: no Authorization header means ANONYMOUS; a bad token is a 401
with `WWW-Authenticate: Bearer error="invalid_token"`. (Token verification lands with the identity issue.)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.principal import ANONYMOUS, Principal


def get_principal(request: Request) -> Principal:
    return ANONYMOUS


PrincipalDep = Annotated[Principal, Depends(get_principal)]
