"""Binance signing keys: which kind a secret is (HMAC text or an Ed25519 private key PEM), the
signature each makes, and refusals that name the problem without showing the key."""
from __future__ import annotations

import base64
import hashlib
import hmac
import pickle

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradecore.simulator.orders import TEST_ED25519_PEM, TEST_SECRET
from tradecore.venues.binance.keys import Ed25519Key, HmacKey, signing_key
from tradecore.venues.credentials import CredentialsError

PAYLOAD = "apiKey=k&recvWindow=5000&timestamp=1649729878532"


def test_plain_secret_is_an_hmac_key_signing_lowercase_hex():
    k = signing_key(TEST_SECRET)
    assert isinstance(k, HmacKey) and k.kind == "hmac"
    assert k.sign(PAYLOAD) == hmac.new(TEST_SECRET.encode(), PAYLOAD.encode(),
                                       hashlib.sha256).hexdigest()
    assert k.sign(PAYLOAD) == k.sign(PAYLOAD)          # the keyed state is copied, not used up


def test_ed25519_pem_is_an_ed25519_key_signing_base64_the_public_key_verifies():
    k = signing_key(TEST_ED25519_PEM)
    assert isinstance(k, Ed25519Key) and k.kind == "ed25519"
    sig = base64.b64decode(k.sign(PAYLOAD), validate=True)
    public = serialization.load_pem_public_key(k.public_pem().encode())
    public.verify(sig, PAYLOAD.encode())                # raises InvalidSignature if wrong
    assert k.public_pem().startswith("-----BEGIN PUBLIC KEY-----")


def test_pem_with_literal_backslash_n_line_breaks_is_read_as_the_same_key():
    one_line = TEST_ED25519_PEM.strip().replace("\n", "\\n")
    assert signing_key(one_line).sign(PAYLOAD) == signing_key(TEST_ED25519_PEM).sign(PAYLOAD)


def _pem(key, encryption=serialization.NoEncryption()) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption).decode()


@pytest.mark.parametrize("make,words", [
    (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "an EC private key"),
    (lambda: _pem(Ed25519PrivateKey.generate(),
                  serialization.BestAvailableEncryption(b"pw")), "encrypted"),
    (lambda: "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----",
     "not a readable private key"),
])
def test_unusable_pem_is_refused_naming_what_it_is_never_its_content(make, words):
    pem = make()
    with pytest.raises(CredentialsError, match=words) as e:
        signing_key(pem)
    for line in pem.splitlines()[1:-1]:
        assert line not in str(e.value)


def test_empty_secret_is_refused():
    with pytest.raises(CredentialsError, match="empty"):
        signing_key("  ")


def test_keys_show_no_material_and_cannot_be_pickled():
    for k in (signing_key(TEST_SECRET), signing_key(TEST_ED25519_PEM)):
        assert "***" in repr(k) and TEST_SECRET not in repr(k)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(k)
