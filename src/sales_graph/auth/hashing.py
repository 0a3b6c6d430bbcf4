"""How client secrets and API keys are kept: only hashes, compared in constant time.

Client secrets go through scrypt with a per-secret salt: a leaked table must not give the
secrets away even if one was chosen by a person. API keys are 256 random bits we generate,
so a single SHA-256 is enough and keeps the per-request check cheap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, dklen=_SCRYPT_LEN, maxmem=64 * 1024 * 1024
    )


def hash_client_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$hash``: the parameters travel with the hash so they can be raised."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_client_secret(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches; a missing or malformed hash still costs one scrypt."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        params = int(n), int(r), int(p)
        expected = _unb64(digest)
        salt_bytes = _unb64(salt)
    except ValueError:
        # Unknown clients and clients without a secret take as long as a wrong secret.
        _scrypt(secret, b"sales-graph-dummy", _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
        return False
    try:
        actual = _scrypt(secret, salt_bytes, *params)
    except ValueError:  # parameters out of range: a corrupt row, not a match
        return False
    return hmac.compare_digest(actual, expected)


def hash_api_key_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_api_key_secret(secret: str, stored: str) -> bool:
    return hmac.compare_digest(hash_api_key_secret(secret), stored)
