"""Accounts and authentication: passwords (argon2), access tokens and API keys.

Access tokens are opaque random strings that expire; API keys carry an id and a secret. Only
SHA-256 digests of tokens and key secrets are stored (they are long random values, so a fast hash
is enough), and passwords only as argon2 hashes. Lookups compare digests in constant time.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from api.auth.models import (
    COMPANY_ROLES,
    KEPT_HASHES,
    TEMPORARY_PASSWORD_HOURS,
    AccountEvent,
    ApiKeyInfo,
    ApiKeyRecord,
    Company,
    Principal,
    Role,
    TokenRecord,
    UserInfo,
    UserRecord,
)
from api.auth.rows import login_key
from api.auth.store import AccountStore
from api.auth.throttle import Attempt, LoginThrottle
from api.validation_text import problem_message
from graph.clock import utc_text
from graph.errors import BadRequest, DomainError, NotFound, Unauthenticated
from graph.store import LAST_POSITION
from ingest.models import SENT, CompanyId, Id
from ingest.service import SYSTEM

# Entries a page of the audit trail holds at most.
MAX_TRAIL_PAGE = 1000
# How much of a username typed at a failed login the trail keeps.
MAX_NAME_KEPT = 200
# Matched whole (fullmatch): "$" also matches before a final newline.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
# An operator's events are recorded with the site of their account, and events name companies:
# both are held to the contract's rules, or an event naming them would be refused or, logged,
# stop a rebuild.
_SITE: TypeAdapter[str] = TypeAdapter(Id)
_COMPANY: TypeAdapter[str] = TypeAdapter(CompanyId)
MIN_PASSWORD = 10
TOKEN_PREFIX = "tga_"
KEY_PREFIX = "tgk_"
_hasher = PasswordHasher()
# Password checks at once, in this process: each argon2 check takes 64 MiB.
_VERIFYING = threading.BoundedSemaphore(4)


def check_trail_page(
    after: int, limit: int, *, after_name: str = "after", limit_name: str = "limit"
) -> None:
    """Raise BadRequest where `after` is no position in the audit trail or `limit` no page's
    length, naming each as the caller gave it (`--limit` on the command line)."""
    if not 1 <= limit <= MAX_TRAIL_PAGE:
        raise BadRequest(f"{limit_name} must be between 1 and {MAX_TRAIL_PAGE}")
    if not 0 <= after <= LAST_POSITION:
        raise BadRequest(f"{after_name} must be a position in the trail: 0 to {LAST_POSITION}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_at: str
    username: str  # the account's, as stored: the login may have typed it in another case
    token_type: str = "bearer"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new API key: `key` is shown once and never stored."""

    info: ApiKeyInfo
    key: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def site_refused(site: str) -> ErrorDetails | None:
    """What the event contract finds wrong with `site` as an event's site, if anything."""
    return _refused(_SITE, site)


def _refused(rule: TypeAdapter[str], value: str) -> ErrorDetails | None:
    try:
        rule.validate_python(value, context=SENT)
    except ValidationError as error:
        return error.errors(include_url=False, include_input=False)[0]
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _password_set_at(user: UserInfo) -> datetime:
    """When the user's password was set; one from before this was kept, when the account was."""
    return datetime.fromisoformat(user.password_set_at or user.created_at)


class PasswordRefused(BadRequest):
    """A new password one of the rules refuses; `rule` names which, for the audit trail."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused(f"the password needs at least {MIN_PASSWORD} characters", "too_short")


class PasswordExpired(DomainError):
    """The password is right but older than the plant's policy allows: change it to log in."""

    status_code = 403
    code = "password_expired"


class TemporaryPasswordExpired(DomainError):
    """An admin set the password and the user did not replace it in time: only a new one from
    an admin opens the account."""

    status_code = 403
    code = "temporary_password_expired"


class PasswordChangeRequired(DomainError):
    """The password is right but an admin set it: the user sets their own to log in."""

    status_code = 403
    code = "password_change_required"


@contextmanager
def _naming(account: str | None) -> Iterator[None]:
    """Name `account` (None: no account was found) on a refusal raised within, for the
    request log, which would otherwise know only the name as typed."""
    try:
        yield
    except DomainError as refusal:
        refusal.account = account
        raise


# Where a password that may not log in is replaced: no session is needed.
CHANGE_TO_LOG_IN = (
    "POST /api/v1/auth/password (username, current_password, new_password), then log in"
)


class AuthService:
    """Manage accounts and turn credentials into principals."""

    def __init__(
        self,
        store: AccountStore,
        token_minutes: int = 60,
        hasher: PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
        *,
        password_max_days: int = 0,
        password_history: int = 0,
        temporary_password_hours: int = TEMPORARY_PASSWORD_HOURS,
    ) -> None:
        """`password_max_days`: a password older than this must be changed before the next
        login (0: passwords do not expire). `password_history`: a change may not bring back
        any of this many last passwords, the current one included (0: only not the current).
        `temporary_password_hours`: how long a password an admin set may still be replaced by
        the user (0: for ever)."""
        self._store = store
        self._token_life = timedelta(minutes=token_minutes)
        self._hasher = hasher or _hasher
        self._dummy: str | None = None
        self._throttle = throttle or LoginThrottle()
        self._max_age = timedelta(days=password_max_days) if password_max_days else None
        self._history = min(password_history, KEPT_HASHES)
        self._temporary_life = (
            timedelta(hours=temporary_password_hours) if temporary_password_hours else None
        )
        self._actor = SYSTEM  # on no one's account, as the log names the demo's setup

    def acting_for(self, actor: str) -> AuthService:
        """Return this service acting for `actor`: the account audit trail names them as the
        one who made each change (an admin's username; the command line's system account)."""
        acting = copy.copy(self)
        acting._actor = actor
        return acting

    def _noted(
        self, action: str, subject: str, actor: str | None = None, **detail: Any
    ) -> AccountEvent:
        """The audit entry of a change made now by `actor` (by default, this service's)."""
        return AccountEvent(utc_text(_now()), actor or self._actor, action, subject, detail)

    def account_events(
        self, after: int = 0, limit: int = 100, subject: str | None = None
    ) -> list[AccountEvent]:
        """Return the account audit trail after position `after` (of one subject), in order."""
        check_trail_page(after, limit)
        return self._store.account_events(after, limit, subject)

    # -- companies -----------------------------------------------------------------------------

    def put_company(
        self,
        company: str,
        name: str,
        kind: str,
        share_lot_ids: bool = False,
        *,
        share_statuses: bool = False,
        share_upstream: bool = False,
        share_steps: bool = False,
        reshare: bool = False,
    ) -> Company:
        """Register or update a partner company and what we share with it."""
        refused = _refused(_COMPANY, company)
        if refused is not None:
            problem = problem_message(refused)
            raise BadRequest(f"company: 1-200 printable characters, no '/' ({problem})")
        if kind not in ("supplier", "customer"):
            raise BadRequest('kind must be "supplier" or "customer"')
        if share_upstream and kind != "customer":
            raise BadRequest("share_upstream is for customers: suppliers trace downstream")
        if (share_lot_ids or share_statuses) and kind != "supplier":
            # What a customer sees is set by what it received, not by these.
            raise BadRequest("share_lot_ids and share_statuses are for suppliers")
        if (share_steps or reshare) and not share_upstream:
            raise BadRequest("share_steps and reshare refine share_upstream: set it too")
        known = self._store.company(company)
        record = Company(
            company,
            name.strip() or company,
            kind,
            share_lot_ids,
            known.created_at if known else utc_text(_now()),
            share_statuses,
            share_upstream,
            share_steps,
            reshare,
        )
        flags = {k: v for k, v in asdict(record).items() if k.startswith(("share_", "reshare"))}
        noted = self._noted("company_set", company, name=record.name, kind=kind, **flags)
        self._store.put_company(record, noted=noted)
        return record

    def companies(self) -> list[Company]:
        return self._store.companies()

    def company(self, company: str) -> Company:
        found = self._store.company(company)
        if found is None:
            raise NotFound(f"no company {company!r}")
        return found

    # -- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        role: Role | str,
        company: str | None = None,
        site: str | None = None,
        *,
        must_change: bool = False,
    ) -> UserInfo:
        """Create a user; a supplier or customer must be bound to a registered company, and
        only an operator may be bound to a site.

        `must_change`: the password is the admin's, to be replaced by the user before the
        first login."""
        self.check_new_user(username, password)
        try:
            role = Role(role)
        except ValueError as error:
            roles = ", ".join(r.value for r in Role)
            raise BadRequest(f"role must be one of {roles}") from error
        if role in COMPANY_ROLES and company is None:
            raise BadRequest(f"{_a(role)} user must be bound to a company (--company)")
        if role not in COMPANY_ROLES and company is not None:
            raise BadRequest(f"{_a(role)} user is not bound to a company")
        if role != Role.OPERATOR and site is not None:
            # Only an operator's reads and records are limited to a site: any other role's
            # would look limited and be nothing of the kind.
            raise BadRequest(f"{_a(role)} user is not bound to a site: sites are for operators")
        refused = None if site is None else site_refused(site)
        if refused is not None:
            raise BadRequest(f"site: {problem_message(refused)}")
        created = utc_text(_now())
        info = UserInfo(username, role, company, site, False, created, created, must_change)
        # The company's kind is checked as the user is inserted: an admin changing it
        # meanwhile cannot leave a supplier's account bound to a customer.
        kind = role.value if role in COMPANY_ROLES else None
        noted = self._noted(
            "user_added",
            username,
            role=role.value,
            company=company,
            site=site,
            must_change_password=must_change,
        )
        record = UserRecord(info, self._hasher.hash(password))
        self._store.add_user(record, company_kind=kind, noted=noted)
        return info

    @staticmethod
    def check_new_user(username: str, password: str) -> None:
        """Raise BadRequest unless `username` and `password` may make a new account."""
        if not USERNAME.fullmatch(username):
            raise BadRequest("username: 2-64 letters, digits, '.', '_', '@' or '-'")
        if username.casefold() == SYSTEM:
            # The name the log and the audit trail give what the service does on no one's
            # account: an account of that name would pass its acts off as the service's.
            raise BadRequest(f"username: {SYSTEM!r} is the service's own name, not an account's")
        _check_password(password)

    def add_first_admin(self, username: str, password: str) -> UserInfo:
        """Create the first admin; Conflict if an active admin exists (checked as it is added)."""
        self.check_new_user(username, password)
        created = utc_text(_now())
        info = UserInfo(username, Role.ADMIN, None, None, False, created, created)
        noted = self._noted("user_added", username, role=Role.ADMIN.value, first_admin=True)
        record = UserRecord(info, self._hasher.hash(password))
        self._store.add_user(record, first_admin=True, noted=noted)
        return info

    def users(self) -> list[UserInfo]:
        return [record.info for record in self._store.users()]

    def set_disabled(self, username: str, disabled: bool) -> None:
        # Disabled, its sessions end in the same write: enabling the account again brings back
        # no token that may have been the reason to disable it.
        noted = self._noted("user_disabled" if disabled else "user_enabled", username)
        if not self._store.set_disabled(username, disabled, noted=noted):
            raise NotFound(f"no user {username!r}")

    def has_admin(self) -> bool:
        return any(user.role == Role.ADMIN and not user.disabled for user in self.users())

    # -- credentials ---------------------------------------------------------------------------

    def login(self, username: str, password: str, client: str | None = None) -> IssuedToken:
        """Check a password and issue a short-lived access token.

        An account or a client that failed too often lately is refused before its password is
        checked (TooManyAttempts, 429), and password checks run a few at a time: each takes
        64 MiB and a good part of a core.
        """
        record = self._checked(username, password, client, "login")
        username = record.info.username  # as stored: the name may be typed in another case
        with _naming(username):
            try:
                self._check_usable(record.info)
                if record.info.must_change_password:
                    raise PasswordChangeRequired(
                        f"the password of {username!r} was set by an admin: set one of your "
                        "own with " + CHANGE_TO_LOG_IN
                    )
                self._check_age(record.info)
            except DomainError as refusal:
                self._refused("login_refused", username, refusal, client)
                raise
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            expires = utc_text(_now() + self._token_life)
            self._store.drop_expired_tokens(utc_text(_now()))
            noted = self._noted("logged_in", username, username, client=client)
            issued = TokenRecord(_digest(token), username, expires)
            if not self._store.add_token(issued, password_hash=record.password_hash, noted=noted):
                self._changed_meanwhile("login_refused", username, client)
        return IssuedToken(token, expires, username)

    def _changed_meanwhile(self, action: str, username: str, client: str | None) -> NoReturn:
        """Refuse a login or a password change whose password was replaced, or whose account
        was disabled, while it was checked: as one sent after that would be, so no session
        outlives the change and no change overrides a newer password."""
        now = self._store.user(username)
        if now is None or now.info.disabled:
            refusal = Unauthenticated("this account is disabled")
            self._refused(action, username, refusal, client)
            raise refusal
        changed = self._noted(action, username, username, reason="password_changed", client=client)
        self._store.note(changed)
        raise Unauthenticated("wrong username or password")

    def _checked(
        self, username: str, password: str, client: str | None, attempt: str
    ) -> UserRecord:
        """Return the user whose password this is, or raise: throttled, a few checks at once.

        A wrong password, or an unknown username, is kept in the audit trail as a failed
        `attempt` ("login", "password_change"), with the client it came from. The throttle
        holds a place for this check until it ends, so checks sent at once count together."""
        # Counted under the name folded, whatever it opens: a refusal reads nothing and tells
        # nothing of which accounts exist; each failure says which account it was aimed at.
        with self._throttle.attempt(login_key(username), client) as throttled:
            record = self._store.login_user(username)
            with _naming(None if record is None else record.info.username):
                try:
                    with _VERIFYING:
                        self._hasher.verify(
                            record.password_hash if record else self._dummy_hash(), password
                        )
                except (VerificationError, InvalidHashError) as error:
                    self._failed(throttled, username, record, client, attempt)
                    raise Unauthenticated("wrong username or password") from error
                if record is None:
                    self._failed(throttled, username, None, client, attempt)
                    raise Unauthenticated("wrong username or password")
                throttled.succeeded(record.info.username)
                return record

    def _check_usable(self, user: UserInfo) -> None:
        """Refuse a right password that opens nothing: a disabled account's, or a password an
        admin set that has outlived its time to be replaced."""
        if user.disabled:
            raise Unauthenticated("this account is disabled")
        lapsed = self.temporary_password_lapsed(user)
        if lapsed is not None:
            raise TemporaryPasswordExpired(
                f"the password an admin set for {user.username!r} expired at "
                f"{utc_text(lapsed)}, unused: ask an admin to set a new one"
            )

    def temporary_password_ends(self, user: UserInfo) -> datetime | None:
        """When the password an admin set for `user` stops opening the account, if it does."""
        if not user.must_change_password or self._temporary_life is None:
            return None
        return _password_set_at(user) + self._temporary_life

    def temporary_password_lapsed(self, user: UserInfo) -> datetime | None:
        """When the password an admin set for `user` lapsed unreplaced, if it has."""
        ends = self.temporary_password_ends(user)
        return ends if ends is not None and _now() > ends else None

    def _refused(
        self, action: str, username: str, refusal: DomainError, client: str | None
    ) -> None:
        if isinstance(refusal, PasswordRefused):
            reason = refusal.rule
        else:
            reason = "disabled" if isinstance(refusal, Unauthenticated) else refusal.code
        self._store.note(self._noted(action, username, username, reason=reason, client=client))

    def _failed(
        self,
        throttled: Attempt,
        typed: str,
        record: UserRecord | None,
        client: str | None,
        attempt: str,
    ) -> None:
        """Keep a failed check under the account it was to, with the name as typed where that
        differs (another case of it), or under what was typed, which may be anything."""
        lockouts = throttled.failed(None if record is None else record.info.username)
        typed = typed[:MAX_NAME_KEPT]
        named = typed if record is None else record.info.username
        seen: dict[str, Any] = {"client": client}
        if typed != named:
            seen["typed"] = typed
        failed = self._noted(f"{attempt}_failed", named, named, **seen, known=record is not None)
        self._store.note(failed)
        # The refusals that follow are not kept (a guesser may send thousands): only that the
        # throttle started refusing, once per lockout, which failed checks alone bring about.
        for lockout in lockouts:
            self._store.note(
                self._noted("login_throttled", named, named, **seen, **asdict(lockout))
            )

    def logout(self, token: str, client: str | None = None) -> None:
        """End the session of an access token: it stops working at once."""
        digest = _digest(token)
        record = self._store.token(digest)
        noted = None
        if record is not None:
            noted = self._noted("logged_out", record.username, record.username, client=client)
        if not self._store.drop_token(digest, noted=noted):
            raise Unauthenticated("the access token is unknown or expired: log in again")

    def change_password(
        self, username: str, current: str, new: str, client: str | None = None
    ) -> str:
        """Change one's own password, giving the current one (checked and throttled as a login
        is: a stolen session must not be enough to take the account over). Every session of
        the account ends; API keys stay, as they are revoked on their own. Return the
        account's name as stored (`username` may be typed in another case)."""
        record = self._checked(username, current, client, "password_change")
        username = record.info.username
        with _naming(username):
            try:  # asked without a session: a disabled account changes nothing
                self._check_usable(record.info)
                self._check_new_password(record, current, new)
            except DomainError as refusal:
                self._refused("password_change_refused", username, refusal, client)
                raise
            noted = self._noted("password_changed", username, username, client=client)
            # Written only over the password just checked, on an enabled account.
            if not self._store_password(username, new, noted, replacing=record.password_hash):
                self._changed_meanwhile("password_change_refused", username, client)
        return username

    def _check_new_password(self, record: UserRecord, current: str, new: str) -> None:
        if new == current:
            raise PasswordRefused("the new password is the current one", "same_as_current")
        _check_password(new)
        if self._history > 1 and self._reused(record, new):
            raise PasswordRefused(
                f"the new password is one of the last {self._history} of this account: "
                "choose another",
                "recently_used",
            )

    def _check_age(self, user: UserInfo) -> None:
        """Refuse a login with a password older than the policy allows."""
        if self._max_age is None:
            return
        set_at = _password_set_at(user)
        if _now() - set_at > self._max_age:
            raise PasswordExpired(
                f"the password of {user.username!r} expired on "
                f"{(set_at + self._max_age).date().isoformat()}: set a new one with "
                + CHANGE_TO_LOG_IN
            )

    def _reused(self, record: UserRecord, new: str) -> bool:
        """Whether `new` is one of the last passwords the policy keeps from coming back."""
        for earlier in (record.password_hash, *record.previous_hashes)[: self._history]:
            try:
                with _VERIFYING:
                    self._hasher.verify(earlier, new)
            except (VerificationError, InvalidHashError):
                continue
            return True
        return False

    def reset_password(self, username: str, new: str, *, must_change: bool = False) -> None:
        """Set a user's password (an admin's act, for a forgotten one); its sessions end.

        `must_change`: the user replaces it before logging in again."""
        # Refused, an admin's act changes no account and tests no password: unlike a user's
        # refused change, it is left to the request log.
        _check_password(new)
        noted = self._noted("password_reset", username, must_change_password=must_change)
        if not self._store_password(username, new, noted, must_change=must_change):
            raise NotFound(f"no user {username!r}")

    def _store_password(
        self,
        username: str,
        new: str,
        noted: AccountEvent,
        *,
        must_change: bool = False,
        replacing: str | None = None,
    ) -> bool:
        """Hash and write a new password (with `replacing`, only over that hash); False when
        the store wrote nothing."""
        hashed, at = self._hasher.hash(new), utc_text(_now())
        return self._store.set_password(
            username, hashed, at, must_change=must_change, noted=noted, replacing=replacing
        )

    def _dummy_hash(self) -> str:
        """A throwaway hash to verify against when the user is unknown, so timing does not
        tell which usernames exist: made by this service's own hasher, at the first login
        (hashing takes a tenth of a second, which every CLI command would pay on start)."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("not-a-real-password")
        return self._dummy

    def principal_from_token(self, token: str) -> Principal:
        """Return who holds this access token, or raise Unauthenticated."""
        record = self._store.token(_digest(token)) if token.startswith(TOKEN_PREFIX) else None
        if record is None or record.expires_at <= utc_text(_now()):
            raise Unauthenticated("the access token is unknown or expired: log in again")
        return self._active(record.username, via="token")

    def create_key(self, username: str, label: str = "") -> IssuedKey:
        """Create an API key for a user; the key is returned once."""
        if self._store.user(username) is None:
            raise NotFound(f"no user {username!r}")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = ApiKeyInfo(key_id, username, label[:200], utc_text(_now()), None)
        noted = self._noted("key_created", key_id, username=username, label=info.label)
        self._store.add_key(ApiKeyRecord(info, _digest(secret)), noted=noted)
        return IssuedKey(info, f"{KEY_PREFIX}{key_id}_{secret}")

    def keys(self, username: str | None = None) -> list[ApiKeyInfo]:
        return [record.info for record in self._store.keys(username)]

    def revoke_key(self, key_id: str) -> None:
        noted = self._noted("key_revoked", key_id)
        if not self._store.revoke_key(key_id, utc_text(_now()), noted=noted):
            raise NotFound(f"no live API key {key_id!r}")

    def principal_from_key(self, raw: str) -> Principal:
        """Return whose API key this is, or raise Unauthenticated."""
        key_id, _, secret = raw.removeprefix(KEY_PREFIX).partition("_")
        record = self._store.key(key_id) if raw.startswith(KEY_PREFIX) and secret else None
        valid = record is not None and hmac.compare_digest(record.secret_hash, _digest(secret))
        if record is None or not valid or record.info.revoked_at is not None:
            raise Unauthenticated("the API key is unknown or revoked")
        return replace(self._active(record.info.username, via="api_key"), key_id=key_id)

    def principal_of(self, username: str) -> Principal:
        """Return the principal of a local user (for the command line, which runs as them)."""
        return self._active(username, via="cli")

    def _active(self, username: str, via: str) -> Principal:
        record = self._store.user(username)
        if record is None or record.info.disabled:
            raise Unauthenticated("this account is disabled or gone")
        info = record.info
        return Principal(info.username, info.role, info.company, info.site, via)


def _a(role: Role) -> str:
    """A role with its article: "an analyst", "a supplier"."""
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"
