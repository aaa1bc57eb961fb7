"""Field encryption: what the ciphertext binds, how keys rotate, and that production refuses the development key."""

from __future__ import annotations

import base64
import os
from datetime import date

import pytest
from sqlalchemy import select

from services.gateway import crypto
from services.gateway.crypto import DecryptionError, FieldCipher, KeyRingError, key_id, parse_key_ring
from services.gateway.identity import service
from services.gateway.identity.models import UserAccount
from services.gateway.settings import GatewaySettings
from tests.identity.factories import id_number, make_school


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


def test_production_refuses_the_development_keys():
    prod = {"env": "production", "database_url": "postgresql://u:p@db/sprout"}
    with pytest.raises(ValueError) as caught:
        GatewaySettings(**prod)
    assert "SPROUT_PII_KEYS" in str(caught.value) and "SPROUT_PII_INDEX_KEY" in str(caught.value)
    keys = {"pii_keys": f"k1:{crypto.generate_key()}", "pii_index_key": crypto.generate_key()}
    found = GatewaySettings(env="test", **keys).development_defaults_in_use()
    assert not any("SPROUT_PII" in f for f in found)


def test_settings_keys_are_what_the_app_encrypts_with():
    key = crypto.generate_key()
    settings = GatewaySettings(env="test", pii_keys=f"site1:{key}", pii_index_key=crypto.generate_key())
    cipher = crypto.cipher_for(settings)
    assert cipher.current_kid == "site1"
    assert crypto.cipher_for(settings) is cipher


async def test_reencrypting_moves_every_personal_field_to_the_newest_key(session):
    school = await make_school(session)
    old = ring("k1")
    user = service.new_user(
        username="rotation-student", display_name="轮换", roles=["student"], school_id=school.id, grade=8,
        personal=service.PersonalInput(id_number=id_number(date(2012, 3, 4)), phone="13900001111", address="北京市海淀区某路1号"),
        cipher=old, on=date(2026, 11, 28),
    )
    session.add(user)
    await session.flush()
    new = ring("k2", "k1")
    changed = await service.reencrypt_personal_data(session=session, cipher=new)
    assert changed >= 1
    row = (await session.execute(select(UserAccount).where(UserAccount.id == user.id))).scalar_one()
    only_new = ring("k2")
    for column in ("id_number", "phone", "address"):
        blob = getattr(row, f"{column}_cipher")
        assert key_id(blob) == "k2"
        assert only_new.decrypt(blob, aad=service.aad(user.id, column))
    assert await service.reencrypt_personal_data(session=session, cipher=new) == 0


async def test_sprout_pii_rotate_reseals_personal_data_and_signing_keys(gw, session):
    """After a new key goes first in SPROUT_PII_KEYS, rotation leaves nothing that needs the old one."""
    from services.gateway.identity.admin import rotate_all
    from services.gateway.tokens.keys import private_key_aad
    from services.gateway.tokens.models import SigningKey
    from tests.identity.factories import make_student

    school = await make_school(session)
    student = await make_student(session, school, phone="13811112222")  # sealed with the development key
    dev = crypto.development_cipher()
    new_key = ("site2", os.urandom(32))
    rotated = FieldCipher(keys=(new_key, *dev.keys), index_key=dev.index_key)
    done = await rotate_all(session, rotated)
    assert done["users"] >= 1 and done["signing_keys"] >= 1  # the app under test made one at startup
    only_new = FieldCipher(keys=(new_key,), index_key=dev.index_key)
    await session.refresh(student)
    assert only_new.decrypt_text(student.phone_cipher, aad=service.aad(student.id, "phone")) == "13811112222"
    for key in (await session.execute(select(SigningKey))).scalars():
        if key.private_key_cipher is not None:
            assert key_id(key.private_key_cipher) == "site2"
            assert len(only_new.decrypt(key.private_key_cipher, aad=private_key_aad(key.kid))) == 32
