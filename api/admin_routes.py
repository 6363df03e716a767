"""Authentication and administration: tokens, users, API keys, partner companies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.auth.models import Principal, Role
from api.auth.service import MAX_TRAIL_PAGE, AuthService
from api.deps import BearerDep, PrincipalDep, ServicesDep, client_host
from api.strict_json import StrictJsonRoute
from graph.errors import BadRequest, DomainError, Forbidden
from graph.store import LAST_POSITION
from ingest.models import Id

router = APIRouter(prefix="/api/v1", route_class=StrictJsonRoute)


def admin(who: PrincipalDep) -> Principal:
    """Allow admins only."""
    if who.role != Role.ADMIN:
        raise Forbidden(f"the {who.role.value} role may not administer accounts")
    return who


AdminDep = Annotated[Principal, Depends(admin)]


def admin_auth(who: AdminDep, svc: ServicesDep) -> AuthService:
    """The account service acting for the calling admin: the audit trail names them."""
    return svc.auth.acting_for(who.username)


# For the routes that change accounts; those that only read take AdminDep.
AdminAuthDep = Annotated[AuthService, Depends(admin_auth)]


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1000)
    role: Role
    company: str | None = Field(default=None, max_length=200)
    # An event's site: the service also holds it to the contract's printable rule.
    site: Id | None = None
    # The admin knows this password: by default the user sets their own before logging in.
    must_change_password: bool = True


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class ExpiredPasswordChange(PasswordChange):
    username: str = Field(max_length=64)


class NewPassword(BaseModel):
    password: str = Field(max_length=1000)
    must_change_password: bool = True


class NewKey(BaseModel):
    username: str = Field(max_length=64)
    label: str = Field(default="", max_length=200)


class CompanyIn(BaseModel):
    company: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    kind: str = Field(pattern="^(supplier|customer)$")
    share_lot_ids: bool = False
    share_statuses: bool = False
    share_upstream: bool = False
    share_steps: bool = False
    reshare: bool = False


@contextmanager
def _logged_as(request: Request, typed: str) -> Iterator[None]:
    """Name whose login or password change this was in the request log: the account as stored
    where the service found one (it may be typed in another case), else the name as typed."""
    request.state.login_user = typed
    try:
        yield
    except DomainError as refusal:
        if refusal.account is not None:
            request.state.login_user = refusal.account
        raise


@router.post("/auth/token", tags=["auth"])
def token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], svc: ServicesDep
) -> dict[str, str]:
    """Exchange a username and password for a short-lived bearer token."""
    with _logged_as(request, form.username):
        issued = svc.auth.login(form.username, form.password, client_host(request))
    request.state.login_user = issued.username  # as stored: it may be typed in another case
    return {
        "access_token": issued.access_token,
        "token_type": issued.token_type,
        "expires_at": issued.expires_at,
    }


@router.post("/auth/logout", tags=["auth"])
def logout(
    request: Request, who: PrincipalDep, bearer: BearerDep, svc: ServicesDep
) -> dict[str, str]:
    """End the session of the access token sent: it stops working at once."""
    if who.via != "token" or bearer is None:
        raise BadRequest("only an access token has a session to end; an admin revokes API keys")
    svc.auth.logout(bearer.credentials, client_host(request))
    return {"username": who.username, "status": "logged out"}


@router.post("/me/password", tags=["auth"])
def change_password(
    request: Request, body: PasswordChange, who: PrincipalDep, svc: ServicesDep
) -> dict[str, str]:
    """Change your password, giving the current one. Every session of the account ends (log in
    again); API keys stay."""
    current, new = body.current_password, body.new_password
    svc.auth.change_password(who.username, current, new, client_host(request))
    return {"username": who.username, "status": "password changed; log in again"}


@router.post("/auth/password", tags=["auth"])
def change_password_to_log_in(
    request: Request, body: ExpiredPasswordChange, svc: ServicesDep
) -> dict[str, str]:
    """Change a password without a session, giving the current one: how a password that has
    expired, or that an admin set (403 `password_expired` or `password_change_required` at
    login), is replaced. Checked and throttled as a login."""
    current, new = body.current_password, body.new_password
    with _logged_as(request, body.username):
        changed = svc.auth.change_password(body.username, current, new, client_host(request))
    request.state.login_user = changed  # as stored: it may be typed in another case
    return {"username": changed, "status": "password changed; log in again"}


@router.get("/me", tags=["auth"])
def me(who: PrincipalDep) -> dict[str, Any]:
    """Return who the caller is."""
    return {
        "username": who.username,
        "role": who.role.value,
        "company": who.company,
        "site": who.site,
    }


@router.get("/admin/users", tags=["admin"])
def list_users(_: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """List users."""
    return [asdict(user) for user in svc.auth.users()]


@router.post("/admin/users", status_code=status.HTTP_201_CREATED, tags=["admin"])
def add_user(body: NewUser, auth: AdminAuthDep) -> dict[str, Any]:
    """Create a user (suppliers and customers are bound to a registered company). Unless
    `must_change_password` is false, the user sets their own password before the first login."""
    user = auth.add_user(
        body.username,
        body.password,
        body.role,
        body.company,
        body.site,
        must_change=body.must_change_password,
    )
    return asdict(user)


@router.post("/admin/users/{username}/disable", tags=["admin"])
def disable_user(username: str, auth: AdminAuthDep) -> dict[str, str]:
    """Disable a user: their tokens and keys stop working at once."""
    auth.set_disabled(username, True)
    return {"username": username, "status": "disabled"}


@router.post("/admin/users/{username}/enable", tags=["admin"])
def enable_user(username: str, auth: AdminAuthDep) -> dict[str, str]:
    """Enable a disabled user."""
    auth.set_disabled(username, False)
    return {"username": username, "status": "enabled"}


@router.post("/admin/users/{username}/password", tags=["admin"])
def reset_password(username: str, body: NewPassword, auth: AdminAuthDep) -> dict[str, str]:
    """Set a user's password (a forgotten one): the user's sessions end; API keys stay. Unless
    `must_change_password` is false, the user sets their own before logging in again."""
    auth.reset_password(username, body.password, must_change=body.must_change_password)
    return {"username": username, "status": "password set"}


@router.get("/admin/keys", tags=["admin"])
def list_keys(_: AdminDep, svc: ServicesDep, username: str | None = None) -> list[dict[str, Any]]:
    """List API keys (never their secrets)."""
    return [asdict(key) for key in svc.auth.keys(username)]


@router.post("/admin/keys", status_code=status.HTTP_201_CREATED, tags=["admin"])
def create_key(body: NewKey, auth: AdminAuthDep) -> dict[str, Any]:
    """Create an API key; the key is in this answer only, store it now."""
    issued = auth.create_key(body.username, body.label)
    return asdict(issued.info) | {"key": issued.key}


@router.delete("/admin/keys/{key_id}", tags=["admin"])
def revoke_key(key_id: str, auth: AdminAuthDep) -> dict[str, str]:
    """Revoke an API key."""
    auth.revoke_key(key_id)
    return {"key_id": key_id, "status": "revoked"}


@router.get("/admin/companies", tags=["admin"])
def list_companies(_: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """List partner companies and what is shared with them."""
    return [asdict(company) for company in svc.auth.companies()]


@router.put("/admin/companies", tags=["admin"])
def put_company(body: CompanyIn, auth: AdminAuthDep) -> dict[str, Any]:
    """Register a partner company or change its sharing policy."""
    company = auth.put_company(
        body.company,
        body.name,
        body.kind,
        body.share_lot_ids,
        share_statuses=body.share_statuses,
        share_upstream=body.share_upstream,
        share_steps=body.share_steps,
        reshare=body.reshare,
    )
    return asdict(company)


@router.get("/admin/audit", tags=["admin"])
def account_audit(
    _: AdminDep,
    svc: ServicesDep,
    after: Annotated[
        int, Query(ge=0, le=LAST_POSITION, description="the trail position to read after")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TRAIL_PAGE)] = 100,
    subject: str | None = Query(default=None, max_length=200),
) -> list[dict[str, Any]]:
    """The account audit trail, oldest first: who added, disabled or enabled which user, set
    or changed a password, created or revoked a key, set a company's sharing or a partner;
    logins and logouts, refused logins and password changes, failed password checks and the
    lockouts they start. Page with `after` (the last `seq` read); `subject` keeps the entries
    about one user, key or company."""
    return [asdict(event) for event in svc.auth.account_events(after, limit, subject)]


@router.get("/admin/stats", tags=["admin"])
def stats(_: AdminDep, svc: ServicesDep) -> dict[str, int]:
    """Count nodes by kind, edges and events."""
    return svc.store.counts()
