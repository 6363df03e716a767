"""The demo plant's partner companies and one account per role, for `tracegraph demo`."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth.models import Role
from api.auth.service import AuthService


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    company: str | None = None
    site: str | None = None


# (id, name, kind, share lot ids, share statuses)
DEMO_COMPANIES = (
    ("ACME-STEEL", "Acme Steel Bar Co.", "supplier", True, True),
    ("POLYMED", "Polymed Granules", "supplier", False, False),
    ("HOSP-NORTH", "North General Hospital", "customer", False, False),
)
DEMO_ACCOUNTS = (
    DemoAccount("admin", "demo-admin-pass", Role.ADMIN),
    DemoAccount("ana", "demo-analyst-pass", Role.ANALYST),
    DemoAccount("otto", "demo-operator-pass", Role.OPERATOR, site="PLANT-1"),
    DemoAccount("acme", "demo-supplier-pass", Role.SUPPLIER, company="ACME-STEEL"),
    DemoAccount("north", "demo-customer-pass", Role.CUSTOMER, company="HOSP-NORTH"),
)


def seed_demo_accounts(auth: AuthService) -> tuple[DemoAccount, ...]:
    """Register the demo companies and accounts; return the accounts."""
    for company, name, kind, share_ids, share_statuses in DEMO_COMPANIES:
        auth.put_company(company, name, kind, share_ids, share_statuses=share_statuses)
    for account in DEMO_ACCOUNTS:
        auth.add_user(
            account.username, account.password, account.role, account.company, account.site
        )
    return DEMO_ACCOUNTS
