"""Secrets, never stored as they are: passwords as scrypt hashes, session ids and API tokens
as SHA-256 digests of random tokens (they carry 256 bits of entropy, so a fast hash is enough
for them). Every check is a constant-time compare."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def hash_password(password: str, n: int = 2**15) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n)
    return f"scrypt${n}$8$1${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or (r, p) != ("8", "1"):
            return False
        return hmac.compare_digest(_scrypt(password, _unb64(salt), int(n)), _unb64(digest))
    except ValueError:
        return False


def _scrypt(password: str, salt: bytes, n: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, maxmem=256 * 2**20, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
