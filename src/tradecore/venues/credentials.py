"""Exchange API credentials: from the environment or a private file, never shown.

Where they come from (first match wins), for a venue id such as `binance` or `binance_usdm`
(upper-cased, anything not a letter or digit becoming `_`):

    TRADECORE_<VENUE>_API_KEY and TRADECORE_<VENUE>_API_SECRET       environment variables
    TRADECORE_<VENUE>_CREDENTIALS_FILE=/outside/the/repo.json  {"api_key": .., "api_secret": ..}

Never from a config file of the project and never from the command line (both end up in shell
history, dumps and tickets). A credentials file must be outside the repository (a key committed
by accident is a key leaked) and readable by its owner only (mode 0600 or stricter, as ssh asks
of private keys): a file that is not is refused with an error naming the path and the rule.

How they stay out of logs: the secret is a `Secret`, whose repr, str and format are `***`; it
cannot be pickled (nothing can carry it into a journal or a cache); copying returns the same
object; `reveal()` is the one way to the text, used only where a request is signed. The API key
is not a secret by Binance's rules (it travels in every request) but it identifies the account,
so a Credentials shows only its last four characters.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Secret", "Credentials", "CredentialsError", "load_credentials", "env_prefix"]

_MASK = "***"


class CredentialsError(ValueError):
    """Credentials missing or unusable; the message names the variable or file, never a value."""


class Secret:
    """A string that never shows itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise CredentialsError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The secret text: only for signing requests."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __copy__(self) -> "Secret":
        return self

    def __deepcopy__(self, memo: dict) -> "Secret":
        return self

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled: credentials never leave the process")


def _mask_key(key: str) -> str:
    return "…" + key[-4:] if len(key) > 8 else _MASK


@dataclass(frozen=True, repr=False)
class Credentials:
    """One venue account's API key and secret."""
    venue: str
    api_key: str
    secret: Secret = field(compare=False)
    source: str = ""                   # "environment" or the file path (for error messages)

    def __post_init__(self) -> None:
        if not isinstance(self.secret, Secret):
            raise CredentialsError(f"{self.venue}: Credentials.secret must be a Secret")
        if not self.api_key:
            raise CredentialsError(f"{self.venue}: empty API key")

    def __repr__(self) -> str:
        return (f"Credentials(venue={self.venue!r}, api_key={_mask_key(self.api_key)!r}, "
                f"secret=***, source={self.source!r})")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("Credentials cannot be pickled: they never leave the process")


def env_prefix(venue: str) -> str:
    """TRADECORE_<VENUE>_ for a venue id."""
    if not venue or not isinstance(venue, str):
        raise CredentialsError(f"venue {venue!r}: expected a venue id such as 'binance'")
    return "TRADECORE_" + re.sub(r"[^A-Za-z0-9]", "_", venue).upper() + "_"


def _repo_root() -> Path | None:
    """The git checkout this package runs from, if it runs from one."""
    here = Path(__file__).resolve()
    for p in here.parents:
        if (p / ".git").exists():
            return p
    return None


def load_credentials(venue: str, env: Mapping[str, str] | None = None, *,
                     repo_root: Path | None = None) -> Credentials:
    """The venue's credentials from `env` (os.environ by default); see the module docstring."""
    env = os.environ if env is None else env
    pre = env_prefix(venue)
    key, secret = env.get(pre + "API_KEY"), env.get(pre + "API_SECRET")
    if key or secret:
        if not (key and secret):
            missing = pre + ("API_SECRET" if key else "API_KEY")
            raise CredentialsError(f"{venue}: {missing} is not set (both {pre}API_KEY and "
                                   f"{pre}API_SECRET are needed)")
        return Credentials(venue, key.strip(), Secret(secret.strip()), "environment")
    path = env.get(pre + "CREDENTIALS_FILE")
    if not path:
        raise CredentialsError(f"{venue}: no credentials; set {pre}API_KEY and {pre}API_SECRET, "
                               f"or {pre}CREDENTIALS_FILE to a JSON file outside the repository")
    return _from_file(venue, Path(path).expanduser(), repo_root or _repo_root())


def _from_file(venue: str, path: Path, repo_root: Path | None) -> Credentials:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise CredentialsError(f"{venue}: credentials file {path} does not exist") from None
    if repo_root is not None:
        root = repo_root.resolve()
        if real == root or root in real.parents:
            raise CredentialsError(f"{venue}: credentials file {path} is inside the repository "
                                   f"{root}; keep it outside, where it cannot be committed")
    mode = real.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{venue}: credentials file {path} has mode "
                               f"{stat.S_IMODE(mode):04o}; it must be readable by its owner "
                               f"only (chmod 600)")
    try:
        data = json.loads(real.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        # the error text of a JSON parser can quote the file's content: say only where
        raise CredentialsError(f"{venue}: credentials file {path} is not readable JSON "
                               f"({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{venue}: credentials file {path}: expected a JSON object with "
                               f"api_key and api_secret")
    key, secret = data.get("api_key"), data.get("api_secret")
    bad = [k for k, v in (("api_key", key), ("api_secret", secret))
           if not isinstance(v, str) or not v.strip()]
    if bad:
        raise CredentialsError(f"{venue}: credentials file {path}: {', '.join(bad)} missing or "
                               f"not a non-empty string")
    return Credentials(venue, key.strip(), Secret(secret.strip()), str(path))
