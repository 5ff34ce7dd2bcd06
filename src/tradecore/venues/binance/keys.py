"""Binance API keys as signers: HMAC-SHA256 (a shared secret) or Ed25519 (a private key).

    key = signing_key(credentials.secret.reveal())
    key.kind                  "hmac" or "ed25519"
    key.sign(payload)         the `signature` param: hex (HMAC) or base64 (Ed25519)

Why both: Binance signs every SIGNED request with the account's key. An HMAC key must sign each
request, which on the order path is one HMAC-SHA256 per order (2-4 us in Python on this
machine's CPUs). An Ed25519 key can instead authenticate a whole WebSocket API connection once
with `session.logon` (Binance accepts only Ed25519 keys for it); after that, requests omit
`apiKey` and `signature` (the `timestamp` stays), so an order is unsigned bytes.

Which one a credential is: the secret text of an Ed25519 key is its private key in PEM (PKCS#8,
`-----BEGIN PRIVATE KEY-----`, as Binance's key generator writes it; unencrypted). Anything
that does not start with `-----BEGIN` is an HMAC secret. A PEM that is not an Ed25519 private
key (RSA, a public key, an encrypted key) is refused with a CredentialsError naming what it is,
never its content. A PEM pasted into one environment variable line with literal `\\n` for the
line breaks (a common .env habit) is accepted.

Nothing here logs or shows key material: repr names the kind only, and the objects cannot be
pickled.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from tradecore.venues.credentials import CredentialsError

__all__ = ["HmacKey", "Ed25519Key", "signing_key"]


class HmacKey:
    """An HMAC-SHA256 secret; signatures are lowercase hex."""

    __slots__ = ("secret", "_keyed")
    kind = "hmac"

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise CredentialsError("an HMAC secret must not be empty")
        self.secret = secret
        try:        # OpenSSL's HMAC object, keyed once: copy() is one C call per signature
            import _hashlib
            self._keyed = _hashlib.hmac_new(secret, digestmod="sha256")
        except (ImportError, AttributeError, ValueError):
            self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def sign(self, payload: str) -> str:
        h = self._keyed.copy()
        h.update(payload.encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return "HmacKey(***)"

    def __reduce__(self):
        raise TypeError("a signing key cannot be pickled: credentials never leave the process")


class Ed25519Key:
    """An Ed25519 private key; signatures are base64 (Binance's encoding for Ed25519)."""

    __slots__ = ("_key",)
    kind = "ed25519"

    def __init__(self, private_key) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        if not isinstance(private_key, Ed25519PrivateKey):
            raise CredentialsError(f"expected an Ed25519 private key, not "
                                   f"{type(private_key).__name__}")
        self._key = private_key

    def sign(self, payload: str) -> str:
        return base64.b64encode(self._key.sign(payload.encode())).decode()

    def public_pem(self) -> str:
        """The public key as Binance asks for it when the API key is registered."""
        from cryptography.hazmat.primitives import serialization
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def __repr__(self) -> str:
        return "Ed25519Key(***)"

    def __reduce__(self):
        raise TypeError("a signing key cannot be pickled: credentials never leave the process")


def signing_key(secret: str) -> HmacKey | Ed25519Key:
    """The signer for a credential's secret text (see the module docstring)."""
    if not isinstance(secret, str) or not secret.strip():
        raise CredentialsError("the API secret is empty")
    text = secret.strip()
    if not text.startswith("-----BEGIN"):
        return HmacKey(text.encode())
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    header = text.split("\n", 1)[0].strip("- ")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise CredentialsError(f"the API secret is an encrypted PEM ({header}); give the "
                               f"unencrypted Ed25519 private key") from None
    except Exception as e:  # noqa: BLE001 - the parser's text may quote the key: not shown
        raise CredentialsError(f"the API secret is a PEM ({header}) that is not a readable "
                               f"private key ({type(e).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        what = ("an RSA" if isinstance(key, rsa.RSAPrivateKey) else
                "an EC" if isinstance(key, ec.EllipticCurvePrivateKey) else
                f"a {type(key).__name__}")
        raise CredentialsError(f"the API secret is {what} private key; tradecore signs Binance "
                               f"requests with HMAC-SHA256 secrets or Ed25519 private keys only")
    return Ed25519Key(key)
