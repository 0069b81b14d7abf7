"""OAuth tokens are encrypted at rest with a Fernet key (`TOKEN_ENCRYPTION_KEY`).

Both tokens and the account they belong to are sealed in one Fernet token, so a row copied
to another account is detected instead of silently used.
"""

from __future__ import annotations

import binascii
import json

from cryptography.fernet import Fernet, InvalidToken

from application.ports.errors import StateStoreError

KEY_VARIABLE = "TOKEN_ENCRYPTION_KEY"
_GENERATE_HINT = (
    "generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
_SEAL_VERSION = 1


class TokenKeyError(StateStoreError):
    """`TOKEN_ENCRYPTION_KEY` is missing or does not open the stored tokens."""


class TokenKeyMissing(TokenKeyError):
    def __init__(self) -> None:
        super().__init__(
            f"{KEY_VARIABLE} is not set: it is required to store or read OAuth tokens, "
            f"which are encrypted at rest; {_GENERATE_HINT}"
        )


class TokenKeyMismatch(TokenKeyError):
    def __init__(self, account: str) -> None:
        super().__init__(
            f"the stored OAuth tokens of account {account!r} cannot be decrypted with "
            f"{KEY_VARIABLE}: it is not the key they were saved with, or the row is damaged "
            "(restore that key, or run `openoms-allegro auth login` to store new tokens)"
        )


class TokenCipher:
    """Encrypts and decrypts short secrets; the key never appears in its repr."""

    __slots__ = ("_fernet",)

    def __init__(self, fernet: Fernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_key(cls, key: str) -> TokenCipher:
        """Raises ValueError naming `TOKEN_ENCRYPTION_KEY` when the key is not a Fernet key."""
        key = key.strip()
        if not key:
            raise ValueError(f"{KEY_VARIABLE} is empty; {_GENERATE_HINT}")
        try:
            return cls(Fernet(key))
        except (ValueError, binascii.Error) as exc:
            raise ValueError(
                f"{KEY_VARIABLE} is not a valid Fernet key: expected URL-safe base64 of "
                f"32 bytes (44 characters ending in '='); {_GENERATE_HINT}"
            ) from exc

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Raises InvalidToken (from cryptography) when the key does not match."""
        return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"


def seal_tokens(cipher: TokenCipher, account: str, access_token: str, refresh_token: str) -> str:
    payload = {
        "v": _SEAL_VERSION,
        "account": account,
        "access_token": access_token,
        "refresh_token": refresh_token,
    }
    return cipher.encrypt(json.dumps(payload, separators=(",", ":")))


def unseal_tokens(cipher: TokenCipher, account: str, sealed: str) -> tuple[str, str]:
    """(access_token, refresh_token); raises TokenKeyMismatch or StateStoreError."""
    try:
        payload = json.loads(cipher.decrypt(sealed))
    except InvalidToken as exc:
        raise TokenKeyMismatch(account) from exc
    except (ValueError, UnicodeError) as exc:
        raise StateStoreError(
            f"the stored OAuth tokens of account {account!r} are corrupt"
        ) from exc
    if not isinstance(payload, dict) or payload.get("v") != _SEAL_VERSION:
        raise StateStoreError(f"the stored OAuth tokens of account {account!r} are corrupt")
    if payload.get("account") != account:
        raise StateStoreError(
            f"the stored OAuth tokens of account {account!r} were sealed for another account"
        )
    access_token, refresh_token = payload.get("access_token"), payload.get("refresh_token")
    if not isinstance(access_token, str) or not isinstance(refresh_token, str):
        raise StateStoreError(f"the stored OAuth tokens of account {account!r} are corrupt")
    return access_token, refresh_token


def require_cipher(cipher: TokenCipher | None) -> TokenCipher:
    if cipher is None:
        raise TokenKeyMissing()
    return cipher
