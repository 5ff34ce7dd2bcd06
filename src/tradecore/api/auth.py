"""Who may call the API.

Rules (issue 9): bound to a loopback address, reads are open to the machine's own users; bound
anywhere else, every call needs the token; write calls (anything that changes the node) always
need it, so with no token configured the API is read-only. The token comes from the environment
(TRADECORE_API_TOKEN), never from the config file or the command line (shell history, process
lists), is compared in constant time, and is never logged or returned: `Auth` keeps it private
and its repr masks it. HTTP calls send `Authorization: Bearer <token>`; a WebSocket client (a
browser cannot set headers on one) sends {"op": "auth", "token": ...} as its first message.
"""
from __future__ import annotations

import hmac
import ipaddress
import os

from tradecore.api.control import ApiError

__all__ = ["Auth", "AuthConfigError", "TOKEN_ENV", "is_loopback"]

TOKEN_ENV = "TRADECORE_API_TOKEN"
MIN_TOKEN_LEN = 16


class AuthConfigError(ValueError):
    """The API cannot start with these settings (the message says which and why)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False           # a host name other than localhost: treat as exposed


class Auth:
    __slots__ = ("_token", "require_for_reads", "host")

    def __init__(self, host: str, token: str | None = None) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        if token is not None and len(token) < MIN_TOKEN_LEN:
            raise AuthConfigError(f"{TOKEN_ENV} is too short: at least {MIN_TOKEN_LEN} "
                                  f"characters (e.g. `python -c 'import secrets; "
                                  f"print(secrets.token_urlsafe(32))'`)")
        self.host = host
        self.require_for_reads = not is_loopback(host)
        if self.require_for_reads and token is None:
            raise AuthConfigError(f"the API is bound to {host}, which is not a loopback "
                                  f"address: set {TOKEN_ENV} (every call then needs it) or "
                                  f"bind to 127.0.0.1")
        self._token = token.encode() if token is not None else None

    def __repr__(self) -> str:
        return (f"Auth(host={self.host!r}, token={'***' if self._token else None}, "
                f"reads_need_token={self.require_for_reads})")

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def matches(self, presented: str | None) -> bool:
        if self._token is None or not presented:
            return False
        return hmac.compare_digest(presented.encode(), self._token)

    def check(self, authorization: str | None, *, write: bool) -> None:
        """Raise ApiError(401/403) unless the call may proceed."""
        if not write and not self.require_for_reads:
            return
        if self._token is None:
            raise ApiError(403, f"write calls need a token and none is configured: start the "
                                f"API with {TOKEN_ENV} set")
        presented = None
        if authorization and authorization.startswith("Bearer "):
            presented = authorization[7:].strip()
        if not self.matches(presented):
            raise ApiError(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
