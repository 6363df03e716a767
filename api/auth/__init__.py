"""Authentication and accounts: users, API keys, tokens, companies, and who a caller is."""

from api.auth.models import ApiKeyInfo, Company, Principal, Role, UserInfo

__all__ = ["ApiKeyInfo", "Company", "Principal", "Role", "UserInfo"]
