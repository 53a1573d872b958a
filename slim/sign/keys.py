"""Key pairs in cosign's file format, so a key made by `slim keygen` works with cosign and one made by
`cosign generate-key-pair` works with slim.

The private key file is PEM of type "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign 1.x wrote "ENCRYPTED COSIGN
PRIVATE KEY"; both are read). Its body is JSON: an scrypt key derivation (name, parameters N/r/p, salt) and a
NaCl secretbox (XSalsa20-Poly1305) ciphertext with its nonce, byte strings in standard base64, around the
PKCS #8 DER of an ECDSA P-256 key. The public key file is PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
The cryptography is the `cryptography` package's and libsodium's (PyNaCl); nothing here is hand-written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from slim.errors import SignatureInvalid, UsageError

PRIVATE_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
WRITTEN_PEM_TYPE = PRIVATE_PEM_TYPES[0]
# the parameter sets the reference reader accepts (2^15 legacy, 2^16 its default, 2^17); new keys use 2^16
ACCEPTED_SCRYPT = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1}, {"N": 131072, "r": 8, "p": 1})
NEW_KEY_SCRYPT = ACCEPTED_SCRYPT[1]
SALT_BYTES, KEY_BYTES = 32, 32


@dataclass(frozen=True)
class KeyPair:
    """A private ECDSA P-256 key, as cosign uses, with its public half."""

    private: ec.EllipticCurvePrivateKey

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        """The public key that verifies this pair's signatures."""
        return self.private.public_key()


def generate() -> KeyPair:
    """A new P-256 key pair for `slim keygen`."""
    return KeyPair(ec.generate_private_key(ec.SECP256R1()))


def _scrypt(password: bytes, salt: bytes, params: dict) -> bytes:
    n, r, p = params["N"], params["r"], params["p"]
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n, dklen=KEY_BYTES)


def encrypt_private(pair: KeyPair, password: bytes) -> bytes:
    """The private key file's bytes."""
    der = pair.private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = nacl.secret.SecretBox(_scrypt(password, salt, NEW_KEY_SCRYPT)).encrypt(der, nonce).ciphertext
    body = {"kdf": {"name": "scrypt", "params": NEW_KEY_SCRYPT, "salt": _b64(salt)},
            "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)}, "ciphertext": _b64(sealed)}
    return _pem(WRITTEN_PEM_TYPE, json.dumps(body, separators=(",", ":")).encode())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def public_pem(public: ec.EllipticCurvePublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), the file cosign and policies read."""
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pem(kind: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return ("\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n").encode()


def _unpem(data: bytes, where: str) -> tuple[str, bytes]:
    text = data.decode("ascii", "replace").strip().splitlines()
    if len(text) < 2 or not text[0].startswith("-----BEGIN ") or not text[-1].startswith("-----END "):
        raise UsageError(f"{where}: not a PEM file")
    kind = text[0][len("-----BEGIN "):].rstrip("-")
    try:
        return kind, base64.b64decode("".join(text[1:-1]), validate=True)
    except ValueError as exc:
        raise UsageError(f"{where}: the PEM body is not base64") from exc


def decrypt_private(data: bytes, password: bytes, where: str = "the key") -> KeyPair:
    """The key pair of a cosign private key file; a wrong password is a UsageError saying so."""
    kind, body = _unpem(data, where)
    if kind not in PRIVATE_PEM_TYPES:
        raise UsageError(f"{where}: a PEM {kind!r}, not a cosign private key ({PRIVATE_PEM_TYPES[0]})")
    try:
        doc = json.loads(body)
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise UsageError(f"{where}: key derivation {kdf['name']!r} / cipher {cipher['name']!r} not supported")
        params = {k: kdf["params"][k] for k in ("N", "r", "p")}
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{where}: not a cosign key file ({exc})") from exc
    if params not in ACCEPTED_SCRYPT:  # a hostile file could ask for gigabytes of scrypt memory
        raise UsageError(f"{where}: scrypt parameters {params} are not among the accepted ones")
    try:
        der = nacl.secret.SecretBox(_scrypt(password, salt, params)).decrypt(sealed, nonce)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise UsageError(f"{where}: wrong password (the key does not decrypt)") from exc
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError(f"{where}: only ECDSA keys are supported")
    return KeyPair(key)


def load_public(data: bytes, where: str = "the public key") -> ec.EllipticCurvePublicKey:
    """A public key from PEM bytes; a usage error naming `where` when it is no public key or not ECDSA."""
    kind, _ = _unpem(data, where)
    if kind != "PUBLIC KEY":
        raise UsageError(f"{where}: a PEM {kind!r}, not a PUBLIC KEY")
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UsageError(f"{where}: only ECDSA public keys are supported")
    return key


def sign(pair: KeyPair, message: bytes) -> bytes:
    """ECDSA with SHA-256, DER-encoded: what cosign writes (base64) into the signature annotation."""
    return pair.private.sign(message, ec.ECDSA(hashes.SHA256()))


def verify(public: ec.EllipticCurvePublicKey, message: bytes, signature: bytes, what: str) -> None:
    """Raise SignatureInvalid, naming `what`, unless `signature` is this key's signature of `message`."""
    try:
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureInvalid(f"{what}: the signature does not match the key") from exc


def read_password(prompt=None, confirm: bool = False) -> bytes:
    """SLIM_KEY_PASSWORD, else COSIGN_PASSWORD (so cosign's own setup works), else what `prompt` asks."""
    for name in ("SLIM_KEY_PASSWORD", "COSIGN_PASSWORD"):
        if name in os.environ:
            return os.environ[name].encode()
    if prompt is None:
        raise UsageError("the key's password: set SLIM_KEY_PASSWORD (no terminal to ask on)")
    return prompt(confirm).encode()
