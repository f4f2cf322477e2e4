"""VAPID keys for Web Push: created on first run and kept in the data folder."""

from __future__ import annotations

import os
from pathlib import Path

from py_vapid import Vapid01


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
