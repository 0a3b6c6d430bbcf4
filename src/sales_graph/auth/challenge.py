"""The ``WWW-Authenticate`` challenges of our 401s (RFC 9110 section 11.6.1, RFC 6750 section 3).

Two schemes: ``Bearer`` (RFC 6750) and ``ApiKey``, ours, for the ``X-API-Key`` header. Its
parameters: ``header`` (where the key goes) and, when a key was sent and refused,
``error="invalid_key"``. Every 401 names ``Bearer`` too, a scheme generic clients know.
"""

from __future__ import annotations

REALM = "sales-graph"

# No credentials: how to authenticate, without error attributes (RFC 6750 section 3.1).
ANONYMOUS = f'Bearer realm="{REALM}", ApiKey header="X-API-Key"'
INVALID_API_KEY = f'ApiKey header="X-API-Key", error="invalid_key", Bearer realm="{REALM}"'
# Credentials sent in a way we cannot read (two Authorization headers, say).
INVALID_REQUEST = f'Bearer realm="{REALM}", error="invalid_request"'
INVALID_TOKEN = 'Bearer error="invalid_token"'  # noqa: S105  (a challenge, not a secret)
