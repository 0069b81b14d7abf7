from __future__ import annotations

import base64

import pytest
from cryptography.fernet import InvalidToken

from adapters.persistence import TokenCipher, TokenKeyMismatch
from adapters.persistence.token_cipher import seal_tokens, unseal_tokens
from application.ports.errors import StateStoreError


@pytest.mark.parametrize(
    "key",
    [
        "",
        "   ",
        "not-a-key",
        base64.urlsafe_b64encode(b"sixteen byte key").decode(),  # too short
        "x" * 32,  # 32 characters, not 32 bytes of base64
        base64.urlsafe_b64encode(b"k" * 33).decode(),  # 33 bytes
        "!" * 43 + "=",  # the right length, not base64
    ],
)
def test_a_malformed_key_is_refused_naming_the_variable(key: str) -> None:
    with pytest.raises(ValueError, match="TOKEN_ENCRYPTION_KEY"):
        TokenCipher.from_key(key)


def test_a_generated_key_round_trips_text() -> None:
    cipher = TokenCipher.from_key(TokenCipher.generate_key())

    sealed = cipher.encrypt("zażółć gęślą jaźń")

    assert "zażółć" not in sealed
    assert cipher.decrypt(sealed) == "zażółć gęślą jaźń"


def test_surrounding_whitespace_in_the_key_is_ignored() -> None:
    key = TokenCipher.generate_key()
    sealed = TokenCipher.from_key(key).encrypt("x")

    assert TokenCipher.from_key(f"  {key}\n").decrypt(sealed) == "x"


def test_the_key_never_appears_in_the_repr() -> None:
    key = TokenCipher.generate_key()

    assert key not in repr(TokenCipher.from_key(key))


def test_another_key_cannot_decrypt() -> None:
    sealed = TokenCipher.from_key(TokenCipher.generate_key()).encrypt("x")

    with pytest.raises(InvalidToken):
        TokenCipher.from_key(TokenCipher.generate_key()).decrypt(sealed)


def test_sealed_tokens_open_for_their_account_only() -> None:
    cipher = TokenCipher.from_key(TokenCipher.generate_key())
    sealed = seal_tokens(cipher, "shop-a", "access", "refresh")

    assert unseal_tokens(cipher, "shop-a", sealed) == ("access", "refresh")
    with pytest.raises(StateStoreError, match="another account"):
        unseal_tokens(cipher, "shop-b", sealed)


def test_unsealing_with_another_key_is_a_key_mismatch() -> None:
    sealed = seal_tokens(TokenCipher.from_key(TokenCipher.generate_key()), "shop-a", "a", "r")

    with pytest.raises(TokenKeyMismatch, match="TOKEN_ENCRYPTION_KEY"):
        unseal_tokens(TokenCipher.from_key(TokenCipher.generate_key()), "shop-a", sealed)


@pytest.mark.parametrize("plaintext", ["not json", "[1, 2]", '{"v": 1, "account": "shop-a"}'])
def test_a_damaged_seal_is_reported_as_corrupt(plaintext: str) -> None:
    cipher = TokenCipher.from_key(TokenCipher.generate_key())

    with pytest.raises(StateStoreError, match="corrupt"):
        unseal_tokens(cipher, "shop-a", cipher.encrypt(plaintext))
