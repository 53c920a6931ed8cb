"""Independent ES256 JWT verification with `cryptography` (not Remit's jwt-kit), against a JWKS."""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_es256(token: str, jwks: dict) -> tuple[dict, dict]:
    """(header, claims) of `token` when its signature verifies with the JWKS key its `kid` names;
    raises otherwise."""
    head, payload, signature = token.split(".")
    header = json.loads(b64url_decode(head))
    assert header.get("alg") == "ES256", header
    matches = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(matches) == 1, f"kid {header.get('kid')} not in JWKS {jwks}"
    key = matches[0]
    assert key["kty"] == "EC" and key["crv"] == "P-256", key
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(key["x"]), "big"), int.from_bytes(b64url_decode(key["y"]), "big"), ec.SECP256R1()
    ).public_key()
    raw = b64url_decode(signature)
    assert len(raw) == 64, "ES256 signatures are r || s, 32 bytes each"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return header, json.loads(b64url_decode(payload))
