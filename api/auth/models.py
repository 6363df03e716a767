"""Who can call tracegraph: roles, principals, and the account records behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    key_id: str | None = None  # which API key, for the audit log


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    role: Role
    company: str | None
    site: str | None
    disabled: bool
    created_at: str
    # When the password was last set; None for accounts from before this was kept, whose
    # password counts as set when the account was made.
    password_set_at: str | None = None
    # Set by an admin (a new account or a reset): the user replaces it before logging in, so
    # no one but the user knows the password their signatures rest on.
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored, with the password hash (never leaves the auth package)."""

    info: UserInfo
    password_hash: str
    # Hashes of the passwords this one replaced, newest first (at most KEPT_HASHES): a change
    # may not bring one of the last few back.
    previous_hashes: tuple[str, ...] = ()


KEPT_HASHES = 24
# How long a password an admin set (a new account's, a reset's) may be replaced by its user:
# past that, someone who learnt it on its way cannot take the account over, and the admin sets
# another. Three days cover a reset on a Friday taken up on Monday morning.
TEMPORARY_PASSWORD_HOURS = 72


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
    # Federation (docs/federation.md): what this company's instance may ask of ours.
    share_upstream: bool = False  # customers: trace upstream from what we shipped them
    share_steps: bool = False  # ... including process steps (else lots and supplier lots only)
    reshare: bool = False  # ... continued into our own partners' answers


@dataclass(frozen=True, slots=True)
class Partner:
    """Another tracegraph instance: where it is and the API key we hold there (a secret)."""

    company: str
    base_url: str
    api_key: str = field(repr=False)
    timeout_s: float = 5.0
    cache_ttl_s: int = 300
    created_at: str = ""

    @property
    def masked_key(self) -> str:
        """Return the key with its secret part hidden (the key id stays, to tell keys apart)."""
        key_id, sep, _ = self.api_key.removeprefix("tgk_").partition("_")
        return f"tgk_{key_id}_****" if self.api_key.startswith("tgk_") and sep else "****"


@dataclass(frozen=True, slots=True)
class PartnerAnswer:
    """A partner's answer as cached: the request it answers, the JSON and when it came.

    A request is `<asked>|<hops>|<code>` (`<asked>`: the direction, any depth and the instances
    the question passed): the code, which may hold '|', comes last.
    """

    partner: str
    request: str
    answer: str = field(repr=False)
    fetched_at: str


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """One entry of the account audit trail: who did what to which account, key or company.

    `subject` is what it was done to (a username, an API key id, a company); `detail` says how
    (a role given, a flag set), never a secret. `seq` is the entry's place in the trail, given
    by the store that keeps it (0 before).
    """

    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
