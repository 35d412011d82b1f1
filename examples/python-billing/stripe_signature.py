"""Stripe webhook signatures, checked the way Stripe's own libraries check them.

The `Stripe-Signature` header is `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`. Each `v1` is
HMAC-SHA256, keyed with the endpoint secret (the whole `whsec_…` string, not decoded), over
`<t>.<raw body>`. A delivery is genuine when any `v1` matches, compared in constant time, and it
is not older than the tolerance (300 s by default; like Stripe, a timestamp in the future is not
rejected). Only the hashlib and hmac modules are needed.
"""

import hashlib
import hmac
import time

DEFAULT_TOLERANCE_SECONDS = 300
SCHEME = "v1"


class SignatureError(Exception):
    """The delivery is not signed with our secret, or not recently enough."""


def expected_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` signature Stripe computes for `payload` signed at `timestamp`."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify(payload: bytes, header, secret: str, tolerance=DEFAULT_TOLERANCE_SECONDS, now=None):
    """Raise SignatureError unless `header` signs exactly `payload` with `secret`."""
    if not header:
        raise SignatureError("no Stripe-Signature header")
    timestamp = None
    signatures = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(f"the timestamp t={value!r} is not a number") from None
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("unable to extract a timestamp and v1 signatures from the header")
    expected = expected_signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no signature matches the expected signature for this payload")
    current = time.time() if now is None else now
    if tolerance > 0 and timestamp < current - tolerance:
        raise SignatureError(
            f"timestamp outside the tolerance zone: signed {int(current - timestamp)} s ago, "
            f"tolerance {tolerance} s"
        )
