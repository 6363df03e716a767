"""Per-application wiring: stores and services, and per-request access for the caller."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.access import Access
from api.auth.connect import open_account_store
from api.auth.models import Principal, Role
from api.auth.service import AuthService
from api.auth.store import AccountStore
from api.federation.client import HttpPartnerClient
from api.federation.service import FederationService
from api.settings import Settings, read_settings
from graph.connect import open_store
from graph.errors import BadRequest, Forbidden, Unauthenticated
from graph.store import GraphStore
from graph.trace import TraceService
from graph.udi import IdentifierService
from ingest.service import SYSTEM, IngestService, open_store_for_use
from marking.service import MarkingService


@dataclass
class Services:
    store: GraphStore
    accounts: AccountStore
    ingest: IngestService
    traces: TraceService
    auth: AuthService
    marking: MarkingService
    federation: FederationService
    identifiers: IdentifierService

    @classmethod
    def for_stores(
        cls,
        store: GraphStore,
        accounts: AccountStore,
        auth: AuthService | None = None,
        settings: Settings | None = None,
        sender: str = SYSTEM,
    ) -> Services:
        """Wire the services; what they write on no caller's account is logged as `sender`'s."""
        # Read afresh, as the environment is now (not the process-wide get_settings, which
        # services wired in code, tests among them, would share), naming a variable refused.
        settings = settings or read_settings()
        ingest = IngestService(store, sender)
        # Account changes made on no caller's account (the command line's, the demo's) are
        # named in the account audit trail as this sender's; the routes act for their caller.
        federation = FederationService(
            accounts,
            HttpPartnerClient(),
            instance=settings.instance,
            company=settings.company,
            max_hops=settings.federation_max_hops,
        ).acting_for(sender)
        return cls(
            store,
            accounts,
            ingest,
            TraceService(store),
            (auth or AuthService(accounts)).acting_for(sender),
            MarkingService(store, ingest),
            federation,
            IdentifierService(store, settings.digital_link_domain),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sender: str = SYSTEM,
        *,
        bring_up_to_date: bool = True,
        finishing_copy: bool = False,
    ) -> Services:
        """Open the stores the settings name, the graph brought up to date (graph.projection)
        unless `bring_up_to_date` is False: for a command that rebuilds it anyway. Only with
        `finishing_copy` (copy-store's target) does a store file a copy left unfinished open."""
        user, password, database = (
            settings.neo4j_user,
            settings.neo4j_password,
            settings.neo4j_database,
        )
        opener = open_store_for_use if bring_up_to_date else open_store
        store = opener(
            settings.store,
            user=user,
            password=password,
            database=database,
            finishing_copy=finishing_copy,
        )
        try:
            accounts = open_account_store(
                settings.store, user=user, password=password, database=database
            )
        except BaseException:
            store.close()  # a server keeps running: its file or driver is not left open
            raise
        return cls.for_stores(
            store,
            accounts,
            AuthService(
                accounts,
                settings.token_minutes,
                password_max_days=settings.password_max_days,
                password_history=settings.password_history,
                temporary_password_hours=settings.temporary_password_hours,
            ),
            settings,
            sender,
        )

    def access(self, principal: Principal) -> Access:
        """Return the services as `principal` may use them."""
        return Access(principal, self.store, self.ingest, self.auth, self.marking, self.identifiers)

    def close(self) -> None:
        self.store.close()
        self.accounts.close()


def command_line_sender() -> str:
    """Who the log names as sender of what the command line writes: the system account running
    it (the command line opens the store directly, as no account of ours)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in the environment nor the password database
        # Still with the colon, which no account's username holds: "cli" could be one.
        return "cli:"


def client_host(request: Request) -> str | None:
    """The address a request came from (None when the server was not told)."""
    return request.client.host if request.client else None


def services(request: Request) -> Services:
    """Return the services of the running application."""
    found: Services = request.app.state.services
    return found


# Who may run the scheduler: it plans the plant's machines for everyone.
PLANNERS = frozenset({Role.ADMIN, Role.ANALYST})

NO_CREDENTIALS = "send Authorization: Bearer <token> or X-API-Key: <key>"
_bearer = HTTPBearer(auto_error=False, description="an access token from POST /api/v1/auth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
TWO_CREDENTIALS = (
    "the request sends both Authorization: Bearer and X-API-Key, which may be two accounts' "
    "credentials: send one of them"
)


class TwoCredentials(BadRequest):
    code = "two_credentials"


# The headers a credential comes in. HTTP takes each once in a request (RFC 9110: neither is a
# list, and a proxy leaves Authorization as it is sent); readers of one sent twice differ, as of
# a query parameter (api.strict_json), on which is the caller's.
CREDENTIAL_HEADERS = ("Authorization", "X-API-Key")


class HeaderTwice(BadRequest):
    code = "duplicate_header"


def credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Return the API key and the bearer token a request sends, as the schemes above read them
    (a header of another scheme, or an empty one, is no credential): the one reading of them,
    before the route (api.credentials_first) and in it where nothing did first (`principal`)."""
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))
    bearer = token if scheme.lower() == "bearer" and token else None
    return headers.get("x-api-key") or None, bearer


def principal(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Return who sends the request: authenticated before the route by credentials_first (and
    again as its body arrives: before this runs where FastAPI reads the body, after it where
    the route reads the body itself), or here where nothing did (see `_authenticated`). The two
    schemes name the credentials in the API's document; the headers are read by `credentials`."""
    known: Principal | None = getattr(request.state, "principal", None)
    return known if known is not None else _authenticated(request, svc)


def authenticate(request: Request) -> Principal:
    """Authenticate a request by its headers: before its route reads anything of it, and again
    as its body arrives (api.credentials_first)."""
    return _authenticated(request, services(request))


def _authenticated(request: Request, svc: Services) -> Principal:
    """Authenticate the request by API key or bearer token; raise Unauthenticated otherwise.

    Both at once are refused, before either is looked up: whose request it is would be a
    choice the caller did not make (a key left in a client's defaults, a token added later).
    So is either header sent twice: we read the first, another reader may read the last.
    """
    for name in CREDENTIAL_HEADERS:
        if len(request.headers.getlist(name)) > 1:
            raise HeaderTwice(
                f"{name} is sent more than once, which may be two accounts' credentials: "
                "send it once"
            )
    key, token = credentials(request.headers)
    if key is not None and token is not None:  # refused before the body too (credentials_first)
        raise TwoCredentials(TWO_CREDENTIALS)
    if key is not None:
        who = svc.auth.principal_from_key(key)
    elif token is not None:
        who = svc.auth.principal_from_token(token)
    else:
        raise Unauthenticated(NO_CREDENTIALS)
    request.state.principal = who
    return who


def access(
    svc: Annotated[Services, Depends(services)], who: Annotated[Principal, Depends(principal)]
) -> Access:
    """Return the request's services, scoped to its caller."""
    return svc.access(who)


def planner(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """Let only the plant's planners through: admins and analysts (the scheduler knows no roles).

    Also tell the scheduler's routes whose jobs the caller sees: an analyst their own, an
    admin, who answers for the queue every planner shares, all of them.
    """
    if who.role not in PLANNERS:
        raise Forbidden(f"the {who.role.value} role may not schedule")
    request.state.job_owner = None if who.role is Role.ADMIN else who.username
    return who


ServicesDep = Annotated[Services, Depends(services)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
PrincipalDep = Annotated[Principal, Depends(principal)]
AccessDep = Annotated[Access, Depends(access)]
