"""Accounts: people who sign in, their roles and sessions, family links with consent, and who may see whom.

Exceptions::

    AccountsError                base of this package
    ├── NotAuthenticated         no valid session or token (HTTP 401)
    ├── LoginRefused             wrong user name or password, or the account is disabled (HTTP 401)
    ├── TooManyAttempts          too many failed sign-ins lately; retry_after_s says when to try (HTTP 429)
    ├── Forbidden                signed in, but the role may not do this (HTTP 403)
    ├── UserNotFound             no user has that id or name (HTTP 404)
    └── InvalidAccount           the account's values are refused, e.g. a taken user name (HTTP 422)
"""


class AccountsError(Exception):
    """Base of the accounts package's exceptions."""


class NotAuthenticated(AccountsError):
    """The request carries no valid session cookie or bearer token."""


class LoginRefused(AccountsError):
    """Wrong user name or password, or a disabled account (deliberately not told apart)."""


class TooManyAttempts(AccountsError):
    """Too many failed sign-ins for this user name or address within the window."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Forbidden(AccountsError):
    """The signed-in user's role or scope does not allow this."""


class UserNotFound(AccountsError):
    """No user has that id or name."""


class InvalidAccount(AccountsError):
    """The account's values are refused; the message says why."""
