"""VAPID keys for Web Push: created on first run and kept in the data folder."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid01, Vapid02


def key_path(data_dir: Path) -> Path:
    return data_dir / "vapid_private.pem"


def ensure_vapid_keys(data_dir: Path) -> Path:
    path = key_path(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        vapid = Vapid01()
        vapid.generate_keys()
        vapid.save_key(str(path))
        os.chmod(path, 0o600)
    return path


def load(data_dir: Path) -> Vapid01:
    return Vapid01.from_file(str(key_path(data_dir)))


def signer(data_dir: Path) -> Vapid02:
    """The kept key as an RFC 8292 signer (`Authorization: vapid t=…, k=…`)."""
    return Vapid02.from_file(str(ensure_vapid_keys(data_dir)))


def public_key_b64(data_dir: Path) -> str:
    """The public key as browsers want it for `applicationServerKey`: the uncompressed P-256
    point (65 bytes), base64url without padding."""
    point = load(ensure_vapid_keys(data_dir).parent).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")
