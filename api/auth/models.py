"""Who can call tracegraph: roles, principals, and the account records behind them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    OPERATOR = "operator"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"


# Roles that act for a company and must be bound to one.
COMPANY_ROLES = frozenset({Role.SUPPLIER, Role.CUSTOMER})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    username: str
    role: Role
    company: str | None = None
    site: str | None = None
    via: str = "token"  # "token", "api_key" or "cli"


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    role: Role
    company: str | None
    site: str | None
    disabled: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored, with the password hash (never leaves the auth package)."""

    info: UserInfo
    password_hash: str


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str
    username: str
    label: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    info: ApiKeyInfo
    secret_hash: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: str
    username: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class Company:
    """A partner company: a supplier or a customer, with what the plant shares with it."""

    company: str
    name: str
    kind: str  # "supplier" or "customer"
    share_lot_ids: bool = False
    created_at: str = ""
    # Whether a supplier sees the statuses (released, quarantined, ...) of what their lots became.
    share_statuses: bool = False
