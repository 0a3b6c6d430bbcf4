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

from joserfc.jwk import ECKey, KeySet

ALGORITHM = "ES256"


def _new_key() -> ECKey:
    return ECKey.generate_key(
        "P-256", parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": ALGORITHM}
    )


class SigningKeys:
    def __init__(self, key_set: KeySet) -> None:
        if not key_set.keys:
            raise ValueError("a signing key set needs at least one key")
        self.key_set = key_set

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKeys:
        if path.exists():
            return cls(KeySet.import_key_set(json.loads(path.read_text())))
        keys = cls(KeySet([_new_key()]))
        keys.save(path)
        return keys

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self.key_set.as_dict(private=True), handle)

    def rotate(self, keep: int = 2) -> None:
        self.key_set = KeySet([*self.key_set.keys, _new_key()][-keep:])

    @property
    def active_kid(self) -> str:
        kid = self.key_set.keys[-1].kid
        assert kid is not None
        return kid

    def public_jwks(self) -> dict[str, Any]:
        return dict(self.key_set.as_dict(private=False))
