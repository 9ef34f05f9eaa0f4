"""The keys that sign access tokens, and their rotation.

Embedded mode keeps a key ring in the data dir (`jwt_keys.json`, mode 0600), created on first run;
`citymarket keys rotate` adds a new signing key and keeps the previous one for verification until the
tokens it signed have expired. Server mode takes the keys from `CITYMARKET_JWT_PRIVATE_KEYS` (a JWK set or
PEM private keys; the first one signs, all of them verify): to rotate, put the new key first and keep the
old one in the list for one access-token lifetime.

Every worker re-reads the key file when it changes, so a rotation reaches a running service.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog
from joserfc.jwk import ECKey, JWKRegistry, KeySet, RSAKey

from app.core.config import Settings

log = structlog.get_logger(__name__)

SUPPORTED_ALGORITHMS = ("ES256", "RS256")
KEY_FILE_NAME = "jwt_keys.json"

AsymmetricKey = ECKey | RSAKey


class KeyConfigurationError(RuntimeError):
    """The signing keys are missing or unusable: the service must not start."""


@dataclass(frozen=True)
class ManagedKey:
    key: AsymmetricKey  # the private key
    kid: str
    alg: str
    created_at: int
    retired_at: int | None = None  # no longer signs
    verify_until: int | None = None  # tokens it signed are refused after this

    def accepts(self, now: int) -> bool:
        return self.verify_until is None or now <= self.verify_until

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False, kid=self.kid, alg=self.alg, use="sig"))


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[ManagedKey, ...]

    @property
    def signing(self) -> ManagedKey:
        for key in self.keys:
            if key.retired_at is None:
                return key
        raise KeyConfigurationError("No active signing key: run `citymarket keys rotate`.")

    def accepted(self, now: int | None = None) -> list[ManagedKey]:
        now = int(time.time()) if now is None else now
        return [k for k in self.keys if k.accepts(now)]

    def verification_set(self, now: int | None = None) -> KeySet:
        keys: list[Any] = [JWKRegistry.import_key(k.public_jwk()) for k in self.accepted(now)]
        return KeySet(keys)

    def kids(self, now: int | None = None) -> frozenset[str]:
        return frozenset(k.kid for k in self.accepted(now))

    def algorithms(self, now: int | None = None) -> frozenset[str]:
        return frozenset(k.alg for k in self.accepted(now))

    def jwks(self, now: int | None = None) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.public_jwk() for k in self.accepted(now)]}


def generate_key(alg: str) -> AsymmetricKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters={"alg": alg, "use": "sig"}, private=True, auto_kid=False)
    if alg == "RS256":
        return RSAKey.generate_key(3072, parameters={"alg": alg, "use": "sig"}, private=True, auto_kid=False)
    raise KeyConfigurationError(f"Unsupported signing algorithm {alg!r}: use one of {', '.join(SUPPORTED_ALGORITHMS)}.")


def new_kid() -> str:
    # A random kid (not the thumbprint) says nothing about the key and never collides across rotations.
    # Hex, not base64url: a kid starting with "-" would read as an option on the command line.
    return secrets.token_hex(12)


def _default_alg(key: AsymmetricKey) -> str:
    return "ES256" if isinstance(key, ECKey) else "RS256"


def _checked(key: Any, source: str) -> AsymmetricKey:
    if not isinstance(key, ECKey | RSAKey):
        raise KeyConfigurationError(f"{source}: only EC (P-256) and RSA keys can sign access tokens.")
    if not key.is_private:
        raise KeyConfigurationError(f"{source}: a private key is needed to sign tokens (this one is public).")
    if isinstance(key, ECKey) and key.curve_name != "P-256":
        raise KeyConfigurationError(f"{source}: EC keys must use the P-256 curve (ES256).")
    if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
        raise KeyConfigurationError(f"{source}: RSA keys must have at least 2048 bits.")
    return key


def parse_private_keys(text: str, source: str = "CITYMARKET_JWT_PRIVATE_KEYS") -> list[ManagedKey]:
    """Keys from a JWK set (`{"keys": [...]}`), one JWK, a JSON list of JWKs, or PEM private keys."""
    text = text.strip().replace("\\n", "\n")
    if not text:
        raise KeyConfigurationError(f"{source} is empty.")
    now = int(time.time())
    managed: list[ManagedKey] = []
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise KeyConfigurationError(f"{source} is not valid JSON: {exc}") from exc
        items = data.get("keys", [data]) if isinstance(data, dict) else data
        for index, item in enumerate(items):
            try:
                key = _checked(JWKRegistry.import_key(item), f"{source} key {index + 1}")
            except KeyConfigurationError:
                raise
            except Exception as exc:
                raise KeyConfigurationError(f"{source} key {index + 1} cannot be read: {exc}") from exc
            alg = str(item.get("alg") or _default_alg(key))
            if alg not in SUPPORTED_ALGORITHMS or (alg == "ES256") != isinstance(key, ECKey):
                raise KeyConfigurationError(f"{source} key {index + 1}: algorithm {alg!r} does not fit the key.")
            managed.append(ManagedKey(key=key, kid=str(item.get("kid") or key.thumbprint()), alg=alg, created_at=now))
    else:
        blocks = re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", text, re.S)
        if not blocks:
            raise KeyConfigurationError(f"{source} holds neither a JWK set nor PEM private keys.")
        for index, block in enumerate(blocks):
            label = f"{source} PEM key {index + 1}"
            imported: Any = None
            for key_type in ("EC", "RSA"):
                try:
                    imported = JWKRegistry.import_key(block, key_type)
                    break
                except Exception:  # noqa: S112  (not this type: try the next one)
                    continue
            if imported is None:
                raise KeyConfigurationError(f"{label} cannot be read as an EC or RSA private key.")
            key = _checked(imported, label)
            managed.append(ManagedKey(key=key, kid=key.thumbprint(), alg=_default_alg(key), created_at=now))
    kids = [k.kid for k in managed]
    if len(set(kids)) != len(kids):
        raise KeyConfigurationError(f"{source}: two keys have the same kid.")
    return managed


class KeyStore(ABC):
    @abstractmethod
    def ring(self) -> KeyRing: ...

    def rotate(self) -> KeyRing:
        raise KeyConfigurationError(
            "The signing keys come from CITYMARKET_JWT_PRIVATE_KEYS: to rotate, generate a key "
            "(`citymarket keys generate`), put it first in the setting and keep the old key after it until "
            "the tokens it signed have expired (one access-token lifetime)."
        )

    def remove(self, kid: str) -> KeyRing:
        raise KeyConfigurationError("The signing keys come from CITYMARKET_JWT_PRIVATE_KEYS: edit the setting.")


class StaticKeyStore(KeyStore):
    def __init__(self, keys: list[ManagedKey]) -> None:
        if not keys:
            raise KeyConfigurationError("No signing key configured.")
        self._ring = KeyRing(tuple(keys))

    def ring(self) -> KeyRing:
        return self._ring


class FileKeyStore(KeyStore):
    """A key ring in a JSON file (mode 0600), re-read whenever it changes on disk."""

    def __init__(self, path: Path, *, alg: str, grace_seconds: int) -> None:
        self.path = path
        self.alg = alg
        self.grace_seconds = grace_seconds
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], KeyRing] | None = None

    # -- reading

    def ring(self) -> KeyRing:
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._create()
                stat = self.path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            if self._cached is None or self._cached[0] != signature:
                if stat.st_mode & 0o077:
                    log.warning("signing key file is readable by others; tightening to 0600", path=str(self.path))
                    os.chmod(self.path, 0o600)
                self._cached = (signature, self._read())
            return self._cached[1]

    def _read(self) -> KeyRing:
        try:
            data = json.loads(self.path.read_text())
            keys = tuple(
                ManagedKey(
                    key=_checked(JWKRegistry.import_key(item["jwk"]), str(self.path)),
                    kid=str(item["jwk"]["kid"]),
                    alg=str(item["jwk"]["alg"]),
                    created_at=int(item["created_at"]),
                    retired_at=item.get("retired_at"),
                    verify_until=item.get("verify_until"),
                )
                for item in data["keys"]
            )
        except KeyConfigurationError:
            raise
        except Exception as exc:
            raise KeyConfigurationError(f"The signing key file {self.path} cannot be read: {exc}") from exc
        return KeyRing(keys)

    # -- writing

    @staticmethod
    def _serialise(ring: KeyRing) -> str:
        return json.dumps(
            {
                "keys": [
                    {
                        "jwk": dict(k.key.as_dict(private=True, kid=k.kid, alg=k.alg, use="sig")),
                        "created_at": k.created_at,
                        "retired_at": k.retired_at,
                        "verify_until": k.verify_until,
                    }
                    for k in ring.keys
                ]
            },
            indent=2,
        )

    def _temp_file(self, content: str) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    def _new_key(self, now: int) -> ManagedKey:
        return ManagedKey(key=generate_key(self.alg), kid=new_kid(), alg=self.alg, created_at=now)

    def _create(self) -> None:
        """First run: a new ring with one key. Hard-linking the finished file into place fails if another
        process got there first, and then that process's ring is the one."""
        temp = self._temp_file(self._serialise(KeyRing((self._new_key(int(time.time())),))))
        try:
            os.link(temp, self.path)
            log.info("generated a signing key", path=str(self.path))
        except FileExistsError:
            pass
        finally:
            temp.unlink()

    def _replace(self, ring: KeyRing) -> None:
        os.replace(self._temp_file(self._serialise(ring)), self.path)
        self._cached = None

    def rotate(self) -> KeyRing:
        now = int(time.time())
        current = self.ring()
        with self._lock:
            kept = []
            for key in current.keys:
                if key.retired_at is None:
                    key = replace(key, retired_at=now, verify_until=now + self.grace_seconds)
                if key.accepts(now):
                    kept.append(key)
            ring = KeyRing((self._new_key(now), *kept))
            self._replace(ring)
        return self.ring()

    def remove(self, kid: str) -> KeyRing:
        current = self.ring()
        if kid not in {k.kid for k in current.keys}:
            raise KeyConfigurationError(f"No key with kid {kid!r}.")
        if current.signing.kid == kid:
            raise KeyConfigurationError("That is the signing key: rotate first, then remove the old one.")
        with self._lock:
            self._replace(KeyRing(tuple(k for k in current.keys if k.kid != kid)))
        return self.ring()


def key_store_for(settings: Settings) -> KeyStore:
    if settings.jwt_private_keys.strip():
        return StaticKeyStore(parse_private_keys(settings.jwt_private_keys))
    if settings.jwt_algorithm not in SUPPORTED_ALGORITHMS:
        raise KeyConfigurationError(
            f"CITYMARKET_JWT_ALGORITHM={settings.jwt_algorithm!r}: use one of {', '.join(SUPPORTED_ALGORITHMS)}."
        )
    return FileKeyStore(
        settings.data_dir / KEY_FILE_NAME,
        alg=settings.jwt_algorithm,
        grace_seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds,
    )
