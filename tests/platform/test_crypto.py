"""Field encryption (shared/crypto.py): what a ciphertext binds, how keys rotate, blind indexes, keys from settings."""

from __future__ import annotations

import base64
import os
from typing import ClassVar

import pytest

from shared import crypto
from shared.crypto import DecryptionError, FieldCipher, KeyRingError, aad, key_id, parse_key_ring
from shared.settings import BaseServiceSettings


def ring(*kids: str, index: bytes = b"i" * 32) -> FieldCipher:
    return FieldCipher(keys=tuple((k, _key(k)) for k in kids), index_key=index)


def _key(kid: str) -> bytes:
    return (kid.encode() * 32)[:32]


def test_a_ciphertext_opens_only_with_its_key_and_its_aad():
    c = ring("k1")
    blob = c.encrypt(b"110105194912310021", aad=b"user_account.id_number:1")
    assert b"110105194912310021" not in blob
    assert c.decrypt(blob, aad=b"user_account.id_number:1") == b"110105194912310021"
    with pytest.raises(DecryptionError):
        c.decrypt(blob, aad=b"user_account.id_number:2")  # copied into another row
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        c.decrypt(bytes(tampered), aad=b"user_account.id_number:1")
    with pytest.raises(DecryptionError):
        ring("other").decrypt(blob, aad=b"user_account.id_number:1")


def test_the_same_value_encrypts_differently_each_time():
    c = ring("k1")
    assert c.encrypt(b"x") != c.encrypt(b"x")


def test_rotation_new_writes_use_the_newest_key_and_old_ciphertexts_still_open():
    old = ring("k1")
    blob = old.encrypt(b"secret", aad=b"a")
    rotated = ring("k2", "k1")
    assert key_id(rotated.encrypt(b"new")) == "k2"
    assert rotated.decrypt(blob, aad=b"a") == b"secret"
    assert rotated.needs_rotation(blob)
    resealed = rotated.rotate(blob, aad=b"a")
    assert key_id(resealed) == "k2"
    assert ring("k2").decrypt(resealed, aad=b"a") == b"secret"
    assert rotated.rotate(resealed, aad=b"a") is None


def test_blind_index_is_stable_normalised_keyed_and_separated_by_purpose():
    c = ring("k1")
    assert c.blind_index("11010519491231002x") == c.blind_index(" 11010519491231002X ")
    assert c.blind_index("13812345678", purpose="phone") != c.blind_index("13812345678")
    assert ring("k1", index=b"j" * 32).blind_index("11010519491231002X") != c.blind_index("11010519491231002X")
    assert "11010519491231002X" not in c.blind_index("11010519491231002X")


def test_key_ring_from_settings():
    k1, k2 = base64.b64encode(os.urandom(32)).decode(), base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    keys = parse_key_ring(f"new:{k2}, old:{k1}")
    assert [kid for kid, _ in keys] == ["new", "old"]
    for bad in ("nokey", "k:not-base64!", f"k:{base64.b64encode(b'short').decode()}", f"a:{k1},a:{k1}", ""):
        with pytest.raises(KeyRingError):
            FieldCipher(keys=parse_key_ring(bad), index_key=b"i" * 32)


def test_a_ciphertext_bound_to_its_row_and_column_opens_nowhere_else():
    c = ring("k1")
    blob = c.encrypt_text("13812345678", aad=aad("guardian_contact", "phone", 7))
    assert aad("guardian_contact", "phone", 7) == b"guardian_contact.phone:7"
    assert c.decrypt_text(blob, aad=aad("guardian_contact", "phone", 7)) == "13812345678"
    for elsewhere in (aad("guardian_contact", "phone", 8), aad("guardian_contact", "address", 7), aad("mentor", "phone", 7)):
        with pytest.raises(DecryptionError):
            c.decrypt_text(blob, aad=elsewhere)


class RecordsSettings(BaseServiceSettings):
    """A domain service that stores personal data."""

    service_name: ClassVar[str] = "records"
    holds_personal_data: ClassVar[bool] = True


class NoPersonalDataSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "plain"


PRODUCTION = {"env": "production", "database_url": "postgresql://u:p@db/sprout"}


def test_production_refuses_the_development_keys_to_a_service_that_holds_personal_data():
    with pytest.raises(ValueError) as caught:
        RecordsSettings(**PRODUCTION)
    assert "SPROUT_PII_KEYS" in str(caught.value) and "SPROUT_PII_INDEX_KEY" in str(caught.value)
    RecordsSettings(**PRODUCTION, pii_keys=f"k1:{crypto.generate_key()}", pii_index_key=crypto.generate_key())
    # A service that stores none needs no keys.
    assert NoPersonalDataSettings(**PRODUCTION).pii_keys is None


def test_settings_keys_are_what_the_app_encrypts_with():
    key = crypto.generate_key()
    settings = RecordsSettings(env="test", pii_keys=f"site1:{key}", pii_index_key=crypto.generate_key())
    cipher = crypto.cipher_for(settings)
    assert cipher.current_kid == "site1"
    assert crypto.cipher_for(settings) is cipher
