"""A person signs in with the OAuth2 password grant, refreshes, signs out, and asks who they are."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import select

from shared.clock import FrozenClock, use_clock

from services.gateway.identity.models import UserAccount
from services.gateway.tokens.models import RefreshToken
from tests.tokens.support import (
    PASSWORD,
    bearer,
    link,
    login,
    make_school,
    make_user,
    refresh,
    signed_in,
    unverified_parts,
)


async def test_a_student_signs_in_and_gets_a_signed_access_token_and_a_refresh_token(gateway, session):
    school = await make_school(session)
    student = await make_user(session, "student", display_name="Chen Xiaoming", school=school, grade=6)

    r = await login(gateway.client, student.username)

    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == ""
    assert len(body["refresh_token"]) >= 40
    header, claims, _ = unverified_parts(body["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    assert claims["sub"] == str(student.id)
    assert claims["kind"] == "user" and claims["typ"] == "access"
    assert claims["roles"] == ["student"]
    assert claims["school_id"] == str(school.id)
    assert claims["name"] == "Chen Xiaoming"
    assert claims["iss"] == "sprout-gateway" and claims["aud"] == "sprout"
    assert claims["exp"] - claims["nbf"] == 900
    # `iat` to the millisecond (a revocation refuses tokens issued at or before it), in nbf's second.
    assert claims["nbf"] <= claims["iat"] < claims["nbf"] + 1 and round(claims["iat"], 3) == claims["iat"]
    jwks = (await gateway.client.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    jwt.decode(body["access_token"], jwt.PyJWK(key, "EdDSA"), algorithms=["EdDSA"], audience="sprout", issuer="sprout-gateway")


async def test_the_username_is_not_case_sensitive(gateway, session):
    await make_user(session, "staff", username="Teacher.Huang")
    assert (await login(gateway.client, "teacher.huang")).status_code == 200


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(gateway, session):
    user = await make_user(session, "staff")
    wrong = await login(gateway.client, user.username, "not the password at all")
    unknown = await login(gateway.client, "nobody-by-that-name", PASSWORD)
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["code"] == "invalid_credentials"
        assert body["error"] == "invalid_grant"
        assert body["error_description"] == body["detail"]
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_a_disabled_account_and_one_without_a_password_cannot_sign_in(gateway, session):
    disabled = await make_user(session, "mentor", disabled=True)
    no_password = await make_user(session, "guardian", password=None)
    for username in (disabled.username, no_password.username):
        r = await login(gateway.client, username)
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "params",
    [
        {"time_cost": 1, "memory_cost": 8192, "parallelism": 1},  # weaker than ours
        {},  # argon2-cffi's defaults (64 MiB, t=3, p=4): hashes made before the OWASP parameters
    ],
    ids=["weaker", "library-defaults"],
)
async def test_a_hash_with_other_parameters_is_replaced_at_sign_in(gateway, session, params):
    from pwdlib.hashers.argon2 import Argon2Hasher

    old = Argon2Hasher(**params).hash(PASSWORD)
    user = await make_user(session, "staff", password_hash_value=old)

    assert (await login(gateway.client, user.username)).status_code == 200

    stored = await session.scalar(select(UserAccount.password_hash).where(UserAccount.id == user.id))
    # OWASP's Argon2id parameters: 19 MiB, 2 passes, 1 lane.
    assert stored != old and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await login(gateway.client, user.username)).status_code == 200
    assert await session.scalar(select(UserAccount.password_hash).where(UserAccount.id == user.id)) == stored


async def test_people_get_no_scopes_and_asking_for_one_is_refused(gateway, session):
    user = await make_user(session, "staff")
    r = await login(gateway.client, user.username, scope="students:read")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_scope" and r.json()["error"] == "invalid_scope"


async def test_a_refresh_token_is_used_once_and_replaced(gateway, session):
    user = await make_user(session, "coordinator")
    first = await signed_in(gateway.app, session, user)

    r = await refresh(gateway.client, first["refresh_token"])

    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert unverified_parts(second["access_token"])[1]["sub"] == str(user.id)
    rows = (await session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id))).all()
    assert len(rows) == 2 and len({r.family_id for r in rows}) == 1
    used = next(r for r in rows if r.used_at is not None)
    assert used.replaced_by == next(r for r in rows if r.used_at is None).id
    # Only the digest is stored.
    assert all(len(r.token_hash) == 64 and r.token_hash not in (first["refresh_token"], second["refresh_token"]) for r in rows)


async def test_a_reused_refresh_token_revokes_every_token_of_that_sign_in(gateway, session):
    user = await make_user(session, "student")
    clock = FrozenClock()
    with use_clock(clock):
        first = await signed_in(gateway.app, session, user)
        second = (await refresh(gateway.client, first["refresh_token"])).json()
        elsewhere = await signed_in(gateway.app, session, user)  # another sign-in, another family

        clock.advance(seconds=gateway.app.state.settings.refresh_token_reuse_grace + 1)  # a thief, later
        stolen = await refresh(gateway.client, first["refresh_token"])

    assert stolen.status_code == 401
    assert stolen.json()["code"] == "invalid_refresh_token" and stolen.json()["error"] == "invalid_grant"
    # The legitimate holder's current token is revoked too: the family is gone.
    r = await refresh(gateway.client, second["refresh_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token"
    # The other sign-in is untouched.
    assert (await refresh(gateway.client, elsewhere["refresh_token"])).status_code == 200


async def test_a_refresh_token_of_an_account_disabled_since_is_refused(gateway, session):
    user = await make_user(session, "staff")
    tokens = await signed_in(gateway.app, session, user)
    user.disabled = True
    await session.flush()
    r = await refresh(gateway.client, tokens["refresh_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token"


async def test_a_refresh_token_expires_after_thirty_days(gateway, session):
    user = await make_user(session, "mentor")
    clock = FrozenClock()
    with use_clock(clock):
        tokens = await signed_in(gateway.app, session, user)
        clock.advance(days=29)
        renewed = await refresh(gateway.client, tokens["refresh_token"])
        assert renewed.status_code == 200
        clock.advance(days=30, seconds=1)
        r = await refresh(gateway.client, renewed.json()["refresh_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token"


async def test_an_unknown_refresh_token_is_refused(gateway):
    r = await refresh(gateway.client, "made-up-refresh-token")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant"


async def test_signing_out_revokes_the_refresh_token_and_its_family(gateway, session):
    user = await make_user(session, "guardian")
    first = await signed_in(gateway.app, session, user)
    second = (await refresh(gateway.client, first["refresh_token"])).json()

    r = await gateway.client.post("/auth/revoke", data={"token": second["refresh_token"], "token_type_hint": "refresh_token"})

    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    after = await refresh(gateway.client, second["refresh_token"])
    assert after.status_code == 401 and after.json()["code"] == "invalid_refresh_token"


async def test_revoking_an_unknown_token_answers_200_and_an_access_token_cannot_be_revoked(gateway, session):
    user = await make_user(session, "staff")
    tokens = await signed_in(gateway.app, session, user)
    assert (await gateway.client.post("/auth/revoke", data={"token": "never-issued"})).status_code == 200
    r = await gateway.client.post("/auth/revoke", data={"token": tokens["access_token"]})
    assert r.status_code == 400
    assert r.json()["code"] == "unsupported_token_type" and r.json()["error"] == "unsupported_token_type"
    assert (await gateway.client.post("/auth/revoke", data={})).json()["error"] == "invalid_request"


async def test_me_tells_a_guardian_who_they_are_and_which_children_are_theirs(gateway, session):
    school = await make_school(session, "Quanzhou No. 5 Middle School (test)")
    child = await make_user(session, "student", display_name="Wang Fang", school=school, grade=5)
    other_child = await make_user(session, "student", display_name="Someone Else")
    guardian = await make_user(session, "guardian", display_name="Wang Jun")
    await link(session, guardian, child, "father")
    tokens = await signed_in(gateway.app, session, guardian)

    r = await gateway.client.get("/auth/me", headers=bearer(tokens["access_token"]))

    assert r.status_code == 200, r.text
    me = r.json()
    assert me["kind"] == "user" and me["id"] == str(guardian.id)
    assert me["name"] == "Wang Jun" and me["username"] == guardian.username
    assert me["roles"] == ["guardian"]
    assert me["children"] == [
        {
            "id": str(child.id), "display_name": "Wang Fang", "relation": "father",
            "school": {"id": str(school.id), "name": "Quanzhou No. 5 Middle School (test)"}, "grade": 5,
        }
    ]
    assert str(other_child.id) not in r.text


async def test_me_tells_a_student_their_school(gateway, session):
    school = await make_school(session)
    student = await make_user(session, "student", school=school, grade=8)
    tokens = await signed_in(gateway.app, session, student)
    me = (await gateway.client.get("/auth/me", headers=bearer(tokens["access_token"]))).json()
    assert me["school"] == {"id": str(school.id), "name": school.name} and me["grade"] == 8 and me["children"] == []


async def test_me_refuses_an_account_disabled_after_its_token_was_signed(gateway, session):
    user = await make_user(session, "expert")
    tokens = await signed_in(gateway.app, session, user)
    user.disabled = True
    await session.flush()
    r = await gateway.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_me_without_a_token_is_401(gateway):
    r = await gateway.client.get("/auth/me")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert r.headers["www-authenticate"].startswith("Bearer")
