"""Settings: one class, read from TRACEGRAPH_* environment variables, built once."""

from __future__ import annotations

import ipaddress
import uuid
from functools import lru_cache
from typing import Annotated, get_args

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.auth.models import TEMPORARY_PASSWORD_HOURS
from api.federation.models import INSTANCE_ID, INSTANCE_RULE
from graph.connect import DEFAULT_URL
from graph.udi import DEFAULT_DOMAIN

# Upper bounds of the account settings (0 turns aging and lapsing off).
MAX_TOKEN_MINUTES = 24 * 60
MAX_PASSWORD_DAYS = 10 * 365
MAX_TEMPORARY_PASSWORD_HOURS = 30 * 24


class Settings(BaseSettings):
    """Where the graph lives and how the service listens."""

    model_config = SettingsConfigDict(env_prefix="TRACEGRAPH_", extra="ignore")

    store: str = DEFAULT_URL
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # The proxies in front of `serve` whose X-Forwarded-For (and -Proto) it believes: addresses
    # and networks, comma-separated. None by default: whoever else sends the header (a client on
    # this host too) would choose the address its failed logins count against.
    trusted_proxies: str = ""
    # Below a kilobyte not even a login form fits: every request would get 413.
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # 0 or less: tokens expired when issued. At most a day: a session is a person's, and a
    # machine that needs longer has an API key (a time past the calendar's end would fail logins).
    token_minutes: int = Field(default=60, ge=1, le=MAX_TOKEN_MINUTES)
    # Password policy (21 CFR Part 11 asks plants to age passwords; NIST SP 800-63B advises
    # against forced changes, so both are off unless a plant's procedures set them).
    password_max_days: int = Field(default=0, ge=0, le=MAX_PASSWORD_DAYS)
    password_history: int = Field(default=0, ge=0, le=24)
    # 0: never lapses; one that must lapse does so within a month.
    temporary_password_hours: int = Field(
        default=TEMPORARY_PASSWORD_HOURS, ge=0, le=MAX_TEMPORARY_PASSWORD_HOURS
    )
    # Where the UDIs and resolved codes we emit point as GS1 Digital Links (docs/identifiers.md):
    # a brand's own resolver instead of GS1's, say.
    digital_link_domain: Annotated[
        str, Field(pattern=r"^https?://[^/?#\s]+(/[^?#\s]*[^/?#\s])?$")
    ] = DEFAULT_DOMAIN
    # Federation (docs/federation.md): who we are to partner instances.
    company: str | None = None  # our company id: marks our own nodes in federated traces
    instance: str = Field(default_factory=lambda: uuid.uuid4().hex)  # for loop detection
    federation_max_hops: int = Field(default=4, ge=0, le=10)
    # Set by `tracegraph demo`: the landing page then shows the demo plant's login and questions,
    # which on any other instance would hand out a password that is not the instance's.
    demo: bool = False

    @field_validator("host")
    @classmethod
    def _host_named(cls, host: str) -> str:
        # An empty address binds every interface: a service meant for this machine alone
        # would answer the network. Every interface is asked for by name.
        if not host:
            raise ValueError("name the address to listen on (0.0.0.0 for every interface)")
        return host

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_named(cls, proxies: str) -> str:
        # Each read as uvicorn reads it (a network has a `/`): a name it would take for a literal
        # that no peer's address ever equals, trusting nothing and saying nothing.
        return ", ".join(map(_proxy, proxies.split(","))) if proxies.strip() else ""

    @field_validator("instance")
    @classmethod
    def _instance_carried(cls, instance: str) -> str:
        # Partners are sent it in a header: one with a line end (read from a file) would make
        # every partner unreachable. Refused here, it is named as set (TRACEGRAPH_INSTANCE).
        if not INSTANCE_ID.fullmatch(instance):
            raise ValueError(INSTANCE_RULE)
        return instance


def _proxy(entry: str) -> str:
    """The address or network `entry` names, written as uvicorn reads it."""
    entry = entry.strip()
    try:
        if "/" in entry:
            return str(ipaddress.ip_network(entry, strict=False))
        return str(ipaddress.ip_address(entry))
    except ValueError:
        raise ValueError(
            f"{entry!r} is no IP address or network: name the proxies to trust by address "
            "(10.0.0.5, 10.0.0.0/24), comma-separated"
        ) from None


def trusted_proxies(settings: Settings) -> list[str]:
    """The addresses and networks of the proxies whose forwarded headers are believed."""
    return settings.trusted_proxies.split(", ") if settings.trusted_proxies else []


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once (`read_settings`)."""
    return read_settings()


def read_settings() -> Settings:
    """Return the settings the environment gives now; raise ValidationError naming each value
    refused by the variable it was set in (TRACEGRAPH_PORT, not port)."""
    try:
        return Settings()
    except ValidationError as error:
        # Only the environment gives values here: its variables are what the user can find.
        raise ValidationError.from_exception_data(
            error.title, [_as_variable(detail) for detail in error.errors()]
        ) from None


# The error types pydantic can rebuild from their name and context.
_PYDANTIC_TYPES = frozenset(get_args(ErrorType))


def _as_variable(detail: ErrorDetails) -> InitErrorDetails:
    """`detail` located at the variable of its field; one of no field (a check of several
    settings at once) located as it was."""
    loc = detail["loc"]
    if loc:
        field, *within = loc
        loc = (f"{Settings.model_config['env_prefix']}{str(field).upper()}", *within)
    if detail["type"] not in _PYDANTIC_TYPES:
        # A type of our own (PydanticCustomError): pydantic rebuilds only its own types, so
        # this one is rebuilt with the message it was given.
        custom = PydanticCustomError(detail["type"], detail["msg"])
        return InitErrorDetails(type=custom, loc=loc, input=detail["input"])
    named = InitErrorDetails(type=detail["type"], loc=loc, input=detail["input"])
    if "ctx" in detail:
        named["ctx"] = detail["ctx"]
    return named
