"""An independent Web Push client (a browser's side), written from the RFCs with nothing but
`cryptography`, so the tests check our sender against the standard rather than against the
library it uses:

- RFC 8291 message encryption: the subscription's P-256 key pair and 16-byte auth secret;
- RFC 8188 aes128gcm content coding: header salt(16) | rs(4) | idlen(1) | keyid, then records;
- RFC 8292 VAPID: `Authorization: vapid t=<JWT ES256>, k=<public key>`.
"""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


class PushClientError(AssertionError):
    pass


class WebPushClient:
    """One subscribed browser: its keys, its subscription JSON, and decryption."""

    def __init__(self, endpoint: str, private_key: ec.EllipticCurvePrivateKey | None = None,
                 auth_secret: bytes | None = None):
        self.endpoint = endpoint
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = auth_secret or os.urandom(16)

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.X962,
                                                          PublicFormat.UncompressedPoint)

    def subscription(self) -> dict:
        """What PushSubscription.toJSON() gives a page."""
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(self.public_bytes), "auth": b64url(self.auth_secret)}}

    def decrypt(self, body: bytes) -> bytes:
        """The plaintext of an aes128gcm push message body (RFC 8291 section 3.4)."""
        if len(body) < 21:
            raise PushClientError("body shorter than the aes128gcm header")
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        as_public = body[21:21 + idlen]
        if idlen != 65 or as_public[:1] != b"\x04":
            raise PushClientError("keyid must be the sender's uncompressed P-256 key")
        if rs < 18:
            raise PushClientError("record size too small")
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
        shared = self.private_key.exchange(ec.ECDH(), sender)
        key_info = b"WebPush: info\x00" + self.public_bytes + as_public
        ikm = _hkdf(self.auth_secret, shared, key_info, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        return self._records(body[21 + idlen:], rs, cek, nonce)

    @staticmethod
    def _records(data: bytes, rs: int, cek: bytes, base_nonce: bytes) -> bytes:
        out, aead = [], AESGCM(cek)
        chunks = [data[i:i + rs] for i in range(0, len(data), rs)]
        if not chunks:
            raise PushClientError("no records")
        for seq, chunk in enumerate(chunks):
            nonce = (int.from_bytes(base_nonce, "big") ^ seq).to_bytes(12, "big")
            plain = aead.decrypt(nonce, chunk, None).rstrip(b"\x00")
            last = seq == len(chunks) - 1
            if not plain or plain[-1:] != (b"\x02" if last else b"\x01"):
                raise PushClientError("bad padding delimiter")
            out.append(plain[:-1])
        return b"".join(out)

    def decrypt_json(self, body: bytes) -> dict:
        return json.loads(self.decrypt(body))


def verify_vapid(authorization: str, endpoint: str, *, at: float | None = None) -> dict:
    """Check an `Authorization: vapid t=…, k=…` header per RFC 8292 for a request to
    `endpoint`; returns {"claims": …, "k": …}. Raises PushClientError when anything is off."""
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise PushClientError(f"scheme {scheme!r} is not vapid")
    params = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip()] = value.strip()
    if "t" not in params or "k" not in params:
        raise PushClientError("t= and k= are required")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(params["k"]))
    try:
        head_b64, claims_b64, sig_b64 = params["t"].split(".")
    except ValueError:
        raise PushClientError("t is not a JWS compact serialisation") from None
    header = json.loads(unb64url(head_b64))
    if header.get("alg") != "ES256":
        raise PushClientError(f"alg {header.get('alg')!r} is not ES256")
    sig = unb64url(sig_b64)
    if len(sig) != 64:
        raise PushClientError("an ES256 signature is r||s, 64 bytes")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise PushClientError("signature does not verify with k") from None
    claims = json.loads(unb64url(claims_b64))
    parts = urlsplit(endpoint)
    if claims.get("aud") != f"{parts.scheme}://{parts.netloc}":
        raise PushClientError(f"aud {claims.get('aud')!r} is not the endpoint's origin")
    now = time.time() if at is None else at
    if not now < int(claims.get("exp", 0)) <= now + 86400:
        raise PushClientError("exp must be in the future and within 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise PushClientError("sub must be a mailto: or https: contact")
    return {"claims": claims, "k": params["k"]}
