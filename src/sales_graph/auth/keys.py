"""The keys that sign our JWTs, kept as a private JSON Web Key Set in a file.

The last key of the set signs; every key of the set verifies, so a new key can be added
(``rotate``) while tokens signed by the previous one are still valid.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet

ALGORITHM = "ES256"


def _new_key() -> ECKey:
    return ECKey.generate_key(
        "P-256", parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": ALGORITHM}
    )


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What tells a rewritten file apart (``save`` renames a new file into place)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size


class SigningKeys:
    def __init__(self, key_set: KeySet, path: Path | None = None) -> None:
        if not key_set.keys:
            raise ValueError("a signing key set needs at least one key")
        self.key_set = key_set
        # Kept to notice a rotation done by ``sales-graph keys rotate`` or another worker.
        self.path = path
        self._stamp = _stamp(path) if path else None

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKeys:
        if path.exists():
            return cls(KeySet.import_key_set(json.loads(path.read_text())), path)
        keys = cls(KeySet([_new_key()]), path)
        keys.save(path)
        return keys

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a process reloading the file never reads half of it.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self.key_set.as_dict(private=True), handle)
        os.replace(partial, path)
        if path == self.path:
            self._stamp = _stamp(path)

    def reload_if_changed(self) -> bool:
        """Picks up a key set rewritten on disk; one ``stat`` when nothing changed."""
        if self.path is None:
            return False
        stamp = _stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            key_set = KeySet.import_key_set(json.loads(self.path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, JoseError):
            return False  # keep signing with what we have; the next call tries again
        if key_set.keys:
            self.key_set, self._stamp = key_set, stamp
        return True

    def find(self, kid: str) -> Key | None:
        """The key named ``kid``, looking at the file again once when it is not known."""
        for attempt in range(2):
            for key in self.key_set.keys:
                if key.kid == kid:
                    return key
            if attempt == 0 and not self.reload_if_changed():
                break
        return None

    def rotate(self, keep: int = 2) -> None:
        self.key_set = KeySet([*self.key_set.keys, _new_key()][-keep:])

    @property
    def active_kid(self) -> str:
        kid = self.key_set.keys[-1].kid
        assert kid is not None
        return kid

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.key_set.as_dict(private=False))
