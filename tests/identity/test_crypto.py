"""The gateway's personal data at rest: production refuses the development keys, and rotation re-seals every row (shared/crypto.py has the cipher's own tests)."""

from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import select

from services.gateway.identity import service
from services.gateway.identity.models import UserAccount
from services.gateway.settings import GatewaySettings
from shared import crypto
from shared.crypto import FieldCipher, key_id
from tests.identity.factories import id_number, make_school
from tests.platform.test_crypto import ring


def test_production_refuses_the_development_keys():
    prod = {"env": "production", "database_url": "postgresql://u:p@db/sprout"}
    with pytest.raises(ValueError) as caught:
        GatewaySettings(**prod)
    assert "SPROUT_PII_KEYS" in str(caught.value) and "SPROUT_PII_INDEX_KEY" in str(caught.value)
    keys = {"pii_keys": f"k1:{crypto.generate_key()}", "pii_index_key": crypto.generate_key()}
    found = GatewaySettings(env="test", **keys).development_defaults_in_use()
    assert not any("SPROUT_PII" in f for f in found)


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
