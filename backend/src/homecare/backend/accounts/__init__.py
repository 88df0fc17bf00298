"""Accounts: people who sign in, their roles and sessions, family links with consent, and who may see whom.

Exceptions (under the project's root, ``homecare.storage.errors.HomecareError``, whose ``http_status`` each
class sets; HTTP 500 where none is given)::

    AccountsError                base of this package
    ├── NotAuthenticated         no valid session or token (HTTP 401, with WWW-Authenticate: Bearer)
    ├── LoginRefused             wrong user name or password, or the account is disabled (HTTP 401)
    ├── TooManyAttempts          too many failed sign-ins lately; retry_after_s says when to try (HTTP 429, with
    │                            Retry-After)
    ├── Forbidden                signed in, but the role may not do this (HTTP 403)
    ├── UserNotFound             no user has that id or name (HTTP 404)
    └── InvalidAccount           the account's values are refused, e.g. a taken user name (HTTP 422)
"""

from homecare.storage.errors import HomecareError


class AccountsError(HomecareError):
    """Base of the accounts package's exceptions."""


class NotAuthenticated(AccountsError):
    """The request carries no valid session cookie or bearer token."""

    http_status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class LoginRefused(AccountsError):
    """Wrong user name or password, or a disabled account (deliberately not told apart)."""

    http_status = 401


class TooManyAttempts(AccountsError):
    """Too many failed sign-ins for this user name or address within the window."""

    http_status = 429

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Forbidden(AccountsError):
    """The signed-in user's role or scope does not allow this."""

    http_status = 403


class UserNotFound(AccountsError):
    """No user has that id or name."""

    http_status = 404


class InvalidAccount(AccountsError):
    """The account's values are refused; the message says why."""

    http_status = 422
