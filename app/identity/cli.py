"""`citymarket users ...`, `citymarket clients ...` and `citymarket keys ...`.

They work on the configured database (and key file) while the service runs: each command is one short
transaction, and a running service re-reads the key file when it changes.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from sqlmodel import Session

import app.models  # noqa: F401  (every table, so that the mappers configure)
from app.auth.keys import KeyConfigurationError, KeyStore, ManagedKey, generate_key, key_store_for, new_kid
from app.auth.principal import KIND_ROLE
from app.core.cli_support import require_service_data, service_engine
from app.core.config import get_settings
from app.core.db import unit_of_work
from app.core.errors import Problem
from app.identity.models import Organisation, OrganisationKind, Role
from app.identity.service import (
    add_membership,
    create_client,
    create_user,
    ensure_organisation,
    list_clients,
    list_users,
    organisation_target_id,
)

users_cli = typer.Typer(help="People and their roles.", no_args_is_help=True)
clients_cli = typer.Typer(
    help="OAuth clients: machine clients of an organisation, and public clients.", no_args_is_help=True
)
keys_cli = typer.Typer(help="The keys that sign access tokens.", no_args_is_help=True)

CityOpt = Annotated[int | None, typer.Option("--city", help="A city's id: act for that city")]
VendorOpt = Annotated[int | None, typer.Option("--vendor", help="A vendor's id: act for that vendor")]
HubOpt = Annotated[int | None, typer.Option("--hub", help="A hub's id: act for that hub")]
ProgrammeOpt = Annotated[bool, typer.Option("--programme", help="Act for the twin-city programme")]
AdminOpt = Annotated[bool, typer.Option("--admin", help="Act for the platform (administrators)")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _organisation(
    session: Session, city: int | None, vendor: int | None, hub: int | None, programme: bool, admin: bool
) -> Organisation | None:
    chosen = [
        (kind, target)
        for kind, target, given in (
            (OrganisationKind.city, city, city is not None),
            (OrganisationKind.vendor, vendor, vendor is not None),
            (OrganisationKind.hub, hub, hub is not None),
            (OrganisationKind.programme, None, programme),
            (OrganisationKind.platform, None, admin),
        )
        if given
    ]
    if len(chosen) > 1:
        raise _fail("give one of --city, --vendor, --hub, --programme, --admin")
    if not chosen:
        return None
    kind, target = chosen[0]
    return ensure_organisation(session, kind, target)


def _describe(role: Role, organisation: Organisation) -> str:
    target = organisation_target_id(organisation)
    where = f"{organisation.kind.value}:{target}" if target is not None else organisation.kind.value
    return f"{role.value}@{where} ({organisation.name})"


# ---------------------------------------------------------------------------------------------------- users


@users_cli.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    password: Annotated[
        str | None, typer.Option(help="The password (visible in shell history: prefer --password-stdin)")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    city: CityOpt = None,
    vendor: VendorOpt = None,
    hub: HubOpt = None,
    programme: ProgrammeOpt = False,
    admin: AdminOpt = False,
    role: Annotated[Role | None, typer.Option(help="The role there (default: the organisation's)")] = None,
) -> None:
    """Create a user, with a role in one organisation."""
    if password_stdin == (password is not None):
        raise _fail("give exactly one of --password and --password-stdin")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    assert password is not None
    engine = service_engine()
    try:
        with unit_of_work(engine) as session:
            organisation = _organisation(session, city, vendor, hub, programme, admin)
            if organisation is None and role in (Role.programme_coordinator, Role.admin):
                kind = OrganisationKind.programme if role is Role.programme_coordinator else OrganisationKind.platform
                organisation = ensure_organisation(session, kind)
            if organisation is None and role is not None:
                raise _fail(f"the role {role.value} needs an organisation (--city, --vendor or --hub ID)")
            user = create_user(session, email=email, name=name, password=password)
            described = ""
            if organisation is not None:
                chosen_role = role or KIND_ROLE[organisation.kind]
                add_membership(session, user, organisation, chosen_role)
                described = f" as {_describe(chosen_role, organisation)}"
    except Problem as exc:
        raise _fail(exc.detail) from exc
    finally:
        engine.dispose()
    typer.echo(f"created user {user.id} {user.email}{described}")


@users_cli.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """Every user with their roles (demo accounts are marked)."""
    engine = service_engine()
    try:
        with Session(engine) as session:
            rows = list_users(session)
            data: list[dict[str, Any]] = [
                {
                    "id": row.user.id,
                    "email": row.user.email,
                    "name": row.user.name,
                    "active": row.user.is_active,
                    "demo": row.user.is_demo,
                    "roles": [_describe(role, organisation) for role, organisation in row.memberships],
                }
                for row in rows
            ]
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if not data:
        typer.echo("no users")
    for item in data:
        flags = "".join([" [demo]" if item["demo"] else "", "" if item["active"] else " [disabled]"])
        roles = ", ".join(item["roles"]) or "no role"
        typer.echo(f"{item['id']:>4}  {item['email']:<40} {item['name']}{flags}\n      {roles}")


# -------------------------------------------------------------------------------------------------- clients


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="What the client is, e.g. 'Karmoy data pipeline'")],
    city: CityOpt = None,
    vendor: VendorOpt = None,
    hub: HubOpt = None,
    programme: ProgrammeOpt = False,
    admin: AdminOpt = False,
    scopes: Annotated[
        list[str] | None, typer.Option("--scopes", help="Scopes (space or comma separated; default: the role's)")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="A public client for people: authorization code + PKCE, no secret")
    ] = False,
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Allowed redirect URI (repeat for several)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {client_id, client_secret} as JSON")] = False,
) -> None:
    """Create a client; its secret is printed once, only its hash is kept."""
    engine = service_engine()
    try:
        with unit_of_work(engine) as session:
            organisation = _organisation(session, city, vendor, hub, programme, admin)
            if public and organisation is not None:
                raise _fail("a public client acts for the people who sign in, not for an organisation")
            created = create_client(
                session,
                name=name,
                organisation=organisation,
                scopes=scopes or (),
                public=public,
                redirect_uris=redirect_uri or (),
            )
            client = created.client
    except Problem as exc:
        raise _fail(exc.detail) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"client_id": client.client_id, "client_secret": created.secret}))
        return
    typer.echo(f"client_id:     {client.client_id}")
    if created.secret is not None:
        typer.echo(f"client_secret: {created.secret}")
        typer.echo("(the secret is shown once; only its hash is stored)")
    typer.echo(f"grant types:   {client.grant_types}")
    typer.echo(f"scopes:        {client.scope}")


@clients_cli.command("list")
def clients_list() -> None:
    """Every client (never a secret)."""
    engine = service_engine()
    try:
        with Session(engine) as session:
            rows = list_clients(session)
            lines = []
            for client, organisation in rows:
                owner = "public" if client.is_public else (organisation.name if organisation else "-")
                flags = ("" if client.is_active else " [disabled]") + (" [demo]" if client.is_demo else "")
                lines.append(
                    f"{client.client_id:<28} {client.name} ({owner}){flags}\n  {client.grant_types}; {client.scope}"
                )
    finally:
        engine.dispose()
    typer.echo("\n".join(lines) or "no clients")


# ----------------------------------------------------------------------------------------------------- keys


def _file_keys_checked() -> KeyStore:
    """The key store; keys kept in the data dir are only the service's if its database is there too (else a
    wrong directory would get a key file of its own)."""
    settings = get_settings()
    if not settings.jwt_private_keys:
        require_service_data(settings)
    return key_store_for(settings)


@keys_cli.command("list")
def keys_list() -> None:
    """The signing key and the keys still accepted."""
    try:
        ring = _file_keys_checked().ring()
    except KeyConfigurationError as exc:
        raise _fail(str(exc)) from exc
    for key in ring.keys:
        status = "signing" if key is ring.signing else f"retired, accepted until {key.verify_until}"
        typer.echo(f"{key.kid}  {key.alg}  created {key.created_at}  {status}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """A new signing key; the previous one stays accepted until the tokens it signed have expired."""
    try:
        ring = _file_keys_checked().rotate()
    except KeyConfigurationError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"signing with {ring.signing.kid}; {len(ring.keys) - 1} older key(s) still accepted")


@keys_cli.command("remove")
def keys_remove(kid: Annotated[str, typer.Argument(help="The key id")]) -> None:
    """Stop accepting an old key now (its tokens are refused from now on)."""
    try:
        _file_keys_checked().remove(kid)
    except KeyConfigurationError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"removed {kid}")


@keys_cli.command("generate")
def keys_generate(alg: Annotated[str, typer.Option(help="ES256 or RS256")] = "ES256") -> None:
    """Print a new private key as a JWK set, for CITYMARKET_JWT_PRIVATE_KEYS (server mode)."""
    try:
        key = ManagedKey(key=generate_key(alg), kid=new_kid(), alg=alg, created_at=0)
    except KeyConfigurationError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps({"keys": [dict(key.key.as_dict(private=True, kid=key.kid, alg=alg, use="sig"))]}))
