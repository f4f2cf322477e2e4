"""Password hashing (argon2id) and the rules a new password must meet."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 128
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A hash of a fixed password, verified against when the account does not exist, so a
# wrong username costs the same time as a wrong password.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # The 20,000 most common passwords (Django's list, after Royce Williams' research).
    path = Path(__file__).with_name("common_passwords.txt.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


def check_new_password(password: str, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise WeakPassword("this password is too common")
    if username and lowered == username.lower():
        raise WeakPassword("must not be the username")
