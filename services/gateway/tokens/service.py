"""Token flows: the three grants, revocation, ended sign-ins, the caller's profile, and signing-key management."""

from __future__ import annotations

import hmac
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.identity.models import UserAccount
from services.gateway.identity.passwords import verify_password_in_thread
from services.gateway.limits import login
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import credentials, repository
from services.gateway.tokens.keys import (
    GENERATED,
    OPERATOR,
    KeyRecord,
    KeyStore,
    NoSigningKey,
    generate_key,
    private_key_aad,
    seal,
    signer_of,
    unseal,
)
from services.gateway.tokens.models import Client, RefreshToken, SigningKey
from services.gateway.tokens.oauth import ClientCredentials, valid_name
from shared import clock, revocations
from shared.crypto import FieldCipher, cipher_for
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import ACCESS, ALGORITHM, Principal

log = logging.getLogger(__name__)

# Past a key's retirement it stays published for the access-token lifetime plus this margin,
# which covers clock skew between replicas and the verifiers' caches.
PUBLICATION_MARGIN = timedelta(seconds=60)


# ---------------------------------------------------------------- issuing access tokens


@dataclass(frozen=True)
class Issued:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


class Issuer:
    """Signs access tokens with the key store's current key."""

    def __init__(self, settings: GatewaySettings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys

    async def access_token(
        self,
        *,
        subject: str,
        kind: str,
        roles: list[str],
        scopes: frozenset[str] = frozenset(),
        name: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        ttl = self.settings.access_token_ttl
        # Stamped with the system clock, not shared.clock: every service checks `exp` against
        # its system clock (PyJWT), so both ends must read the same one.
        issued = time.time()
        now = int(issued)
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": subject,
            # To the millisecond (RFC 7519 allows it), rounded down: a revocation refuses the
            # tokens issued at or before it, so a sign-in right after an account is enabled
            # again must not look as old as the revocation's second.
            "iat": math.floor(issued * 1000) / 1000,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS,
            "kind": kind,
            "roles": sorted(roles),
            "scope": " ".join(sorted(scopes)),
        }
        if name:
            claims["name"] = name
        if extra:
            claims.update({k: v for k, v in extra.items() if v is not None})
        try:
            kid, key = await self.keys.signer()
        except NoSigningKey as exc:
            raise ProblemError("not_ready", reason=str(exc)) from None
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid}), ttl


def _user_claims(user: UserAccount) -> dict[str, Any]:
    return {
        "school_id": str(user.school_id) if user.school_id else None,
        # A person with role partner speaks for one partner university, like its machine clients.
        "partner_id": str(user.partner_id) if user.partner_id else None,
    }


async def _new_refresh_token(
    session: AsyncSession,
    settings: GatewaySettings,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    scopes: frozenset[str],
    now: datetime,
    replacing: str | None = None,
) -> tuple[str, RefreshToken]:
    """A new refresh token: random for a new sign-in, derived from the one it is `replacing` in a rotation."""
    token_id = uuid.uuid4()
    plain = credentials.new_secret() if replacing is None else _successor(settings, replacing, token_id)
    row = RefreshToken(
        id=token_id,
        family_id=family_id,
        user_id=user_id,
        token_hash=credentials.digest(plain),
        scopes=sorted(scopes),
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
    )
    await repository.add_refresh_token(session, row)
    return plain, row


def _successor(settings: GatewaySettings, token: str, successor_id: uuid.UUID) -> str:
    # Keyed by a key derived from the blind-index key, the gateway's one secret that is the
    # same on every replica and never rotates.
    return credentials.successor(cipher_for(settings).index_key, token, successor_id)


def _refuse_user_scopes(scopes: frozenset[str] | None) -> None:
    # People's rights come from their roles; scopes are what a machine client is granted.
    # A scope nobody can have is refused, never silently dropped.
    if scopes:
        raise ProblemError("invalid_scope", scope=" ".join(sorted(scopes)))


# ---------------------------------------------------------------- grants


async def password_grant(
    session: AsyncSession, issuer: Issuer, *, username: str, password: str, scopes: frozenset[str] | None
) -> Issued:
    """A person signs in. Failures count against the account (limits/login.py), whose lock
    refuses even the right password until it ends."""
    settings = issuer.settings
    _refuse_user_scopes(scopes)
    if not valid_name(username) or len(password) > 1024:
        raise ProblemError("invalid_credentials")
    now = clock.now()
    throttle, locked = await login.begin(session, username, now)
    if locked is not None:
        raise ProblemError("login_throttled", headers={"Retry-After": str(locked)}, retry_after=locked)

    user = await repository.user_by_username(session, username)
    can_sign_in = user is not None and not user.disabled and user.password_hash is not None
    # Argon2 is slow on purpose (tens of milliseconds of CPU): off the event loop,
    # in the bounded, low-priority hashing threads (identity/passwords.py).
    ok, new_hash = await verify_password_in_thread(password, user.password_hash if can_sign_in else None)
    if not (ok and can_sign_in):
        await login.record_failure(session, throttle, now, login.LoginPolicy.of(settings))
        raise ProblemError("invalid_credentials")

    await login.record_success(session, throttle)
    if new_hash is not None:
        await repository.set_password_hash(session, user.id, new_hash)
    return await sign_in(session, issuer, user)


async def sign_in(session: AsyncSession, issuer: Issuer, user: UserAccount) -> Issued:
    """An access token and a new refresh-token family for a person whose credentials were checked."""
    access, ttl = await issuer.access_token(
        subject=str(user.id), kind="user", roles=list(user.roles), name=user.display_name, extra=_user_claims(user)
    )
    refresh, _ = await _new_refresh_token(
        session, issuer.settings, user_id=user.id, family_id=uuid.uuid4(), scopes=frozenset(), now=clock.now()
    )
    return Issued(access, ttl, "", refresh)


async def authenticate_client(session: AsyncSession, creds: ClientCredentials | None) -> Client:
    challenge = {"WWW-Authenticate": 'Basic realm="sprout"'} if creds is None or creds.basic else {}
    if creds is None:
        raise ProblemError("invalid_client", headers=challenge)
    client = await repository.client_by_client_id(session, creds.client_id) if valid_name(creds.client_id) else None
    matches = credentials.secret_matches(creds.secret, client.secret_hash if client else None)
    if client is None or not matches or client.disabled:
        raise ProblemError("invalid_client", headers=challenge)
    return client


async def client_credentials_grant(
    session: AsyncSession, issuer: Issuer, *, creds: ClientCredentials | None, scopes: frozenset[str] | None
) -> Issued:
    """A machine client signs in with its secret; it gets the scopes it asks for, if allowed,
    or all of its scopes when it asks for none. No refresh token (RFC 6749 4.4.3)."""
    client = await authenticate_client(session, creds)
    allowed = frozenset(client.scopes)
    if scopes is None:
        scopes = allowed
    elif not scopes <= allowed:
        raise ProblemError("invalid_scope", scope=" ".join(sorted(scopes - allowed)))
    access, ttl = await issuer.access_token(
        subject=client.client_id,
        kind="client",
        roles=list(client.roles),
        scopes=scopes,
        name=client.name,
        extra={"partner_id": str(client.partner_id) if client.partner_id else None},
    )
    return Issued(access, ttl, " ".join(sorted(scopes)))


async def refresh_grant(
    session: AsyncSession, issuer: Issuer, *, refresh_token: str, scopes: frozenset[str] | None
) -> Issued:
    """A new access token and a new refresh token for a refresh token, which is used up.

    Presenting a used refresh token again means two parties hold it, one of them a thief:
    the whole family (every token descended from the same sign-in) is revoked, and the
    revocation is kept although the request fails. One exception: within
    `refresh_token_reuse_grace` seconds of its use, while its successor is unused, the token
    gets that same successor again (see `_repeat`). Nothing of a rotation is kept when the
    request fails after it began (the new token, the old one's use).
    """
    settings = issuer.settings
    now = clock.now()
    row = await repository.refresh_token_for_update(session, credentials.digest(refresh_token))
    if row is None or row.revoked_at is not None:
        raise ProblemError("invalid_refresh_token")
    repeated = None
    if row.used_at is not None:
        repeated = await _repeat(session, settings, row, refresh_token, now)
        if repeated is None:
            revoked = await repository.revoke_family(session, row.family_id, now)
            log.warning(
                "a used refresh token was presented again; its family is revoked",
                extra={"family_id": str(row.family_id), "user_id": str(row.user_id), "revoked": revoked},
            )
            raise ProblemError("invalid_refresh_token")
    elif row.expires_at <= now:
        raise ProblemError("invalid_refresh_token")
    granted = frozenset(repeated[0].scopes if repeated else row.scopes)
    if scopes is not None and not scopes <= granted:
        raise ProblemError("invalid_scope", scope=" ".join(sorted(scopes - granted)))
    user = await repository.user_by_id(session, row.user_id)
    if user is None or user.disabled or user.password_hash is None:
        await repository.revoke_family(session, row.family_id, now)
        raise ProblemError("invalid_refresh_token")

    keep = scopes if scopes is not None else granted
    # A savepoint: should signing fail (no key may sign), the route still commits (a failed
    # grant may have to keep a revocation), but not this rotation, so the token stays usable.
    async with session.begin_nested():
        if repeated:
            plain = repeated[1]
            log.info("a refresh token was presented again within its grace; its successor is given again",
                     extra={"family_id": str(row.family_id), "user_id": str(row.user_id)})
        else:
            plain, new_row = await _new_refresh_token(
                session, settings, user_id=user.id, family_id=row.family_id, scopes=keep, now=now, replacing=refresh_token
            )
            row.used_at = now
            row.replaced_by = new_row.id
            await session.flush()
        access, ttl = await issuer.access_token(
            subject=str(user.id), kind="user", roles=list(user.roles), scopes=keep, name=user.display_name,
            extra=_user_claims(user),
        )
    return Issued(access, ttl, " ".join(sorted(keep)), plain)


async def _repeat(
    session: AsyncSession, settings: GatewaySettings, row: RefreshToken, presented: str, now: datetime
) -> tuple[RefreshToken, str] | None:
    """The successor to give again for a used refresh token presented within the grace, or None (a reuse).

    Two tabs refreshing at once, or a client retrying after a lost answer, present the same
    token twice within a moment. Both get the same successor (derived from the presented
    token, so nothing secret is kept to repeat it), never a sibling: the family stays one
    line, and a thief who replays a token within the grace holds exactly what its owner
    holds, so whichever of them uses it second still reveals the theft. Only the newest used
    token qualifies (its successor unused and unrevoked), only within the grace.
    """
    grace = settings.refresh_token_reuse_grace
    if grace <= 0 or row.replaced_by is None or now - row.used_at > timedelta(seconds=grace):
        return None
    successor = await repository.refresh_token_by_id_for_update(session, row.replaced_by)
    if successor is None or successor.used_at is not None or successor.revoked_at is not None or successor.expires_at <= now:
        return None
    plain = _successor(settings, presented, successor.id)
    # Differs only if the blind-index key changed since the rotation.
    if not hmac.compare_digest(credentials.digest(plain), successor.token_hash):
        return None
    return successor, plain


async def revoke(session: AsyncSession, issuer: Issuer, verifier, *, token: str, hint: str | None) -> None:
    """RFC 7009: revoke a refresh token and its family. Unknown tokens are fine (nothing to do);
    a valid access token cannot be revoked (every service checks it locally) and says so."""
    row = await repository.refresh_token_for_update(session, credentials.digest(token))
    if row is not None:
        await repository.revoke_family(session, row.family_id, clock.now())
        return
    if token.count(".") == 2:
        try:
            await verifier.verify(token)
        except Exception:
            return
        raise ProblemError("unsupported_token_type", ttl=issuer.settings.access_token_ttl)


async def end_sign_ins(session: AsyncSession, user: UserAccount) -> int:
    """Every sign-in of a person ends (for identity: their account disabled or its password
    reset): their refresh tokens are revoked, and once the caller's transaction commits every
    service refuses their access tokens (shared/revocations.py). Returns the refresh tokens revoked."""
    reason = "account_disabled" if user.disabled else "password_reset"
    await revocations.revoke(session, kind=revocations.USER, subject=str(user.id), reason=reason)
    return await repository.revoke_user_tokens(session, user.id, clock.now())


# ---------------------------------------------------------------- the caller


async def me(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The caller as the gateway knows them now; an account disabled since its token was signed gets 401."""
    out: dict[str, Any] = {
        "kind": principal.kind,
        "id": principal.id,
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes),
        "token_expires_at": datetime.fromtimestamp(principal.expires_at, tz=UTC),
        "username": None,
        "school": None,
        "grade": None,
        "children": [],
        "partner": None,
    }
    if principal.kind == "client":
        client = await repository.client_by_client_id(session, principal.id)
        if client is None or client.disabled:
            raise ProblemError("invalid_token")
        out["name"] = client.name
        if client.partner_id:
            partner = await repository.partner(session, client.partner_id)
            out["partner"] = {"id": partner.id, "name": partner.name} if partner else None
        return out
    user_id = as_uuid(principal.id)
    if user_id is None:
        raise ProblemError("invalid_token")
    user = await repository.user_by_id(session, user_id)
    if user is None or user.disabled:
        raise ProblemError("invalid_token")
    out.update(name=user.display_name, username=user.username, roles=sorted(user.roles), grade=user.grade)
    if user.school_id:
        school = await repository.school(session, user.school_id)
        out["school"] = {"id": school.id, "name": school.name} if school else None
    if user.partner_id:
        partner = await repository.partner(session, user.partner_id)
        out["partner"] = {"id": partner.id, "name": partner.name} if partner else None
    if "guardian" in user.roles:
        out["children"] = [
            {
                "id": child.id,
                "display_name": child.display_name,
                "relation": relation,
                "school": {"id": school.id, "name": school.name} if school else None,
                "grade": child.grade,
            }
            for child, relation, school in await repository.children_of(session, user.id)
        ]
    return out


# ---------------------------------------------------------------- signing keys


def _record(row: SigningKey) -> KeyRecord:
    return KeyRecord(row.kid, dict(row.public_jwk), row.origin, row.activated_at, row.retired_at, row.published_until, row.private_key_cipher)


def _publication_end(settings: GatewaySettings, retired_at: datetime) -> datetime:
    # A replica reads the key table at most `signing_key_cache_seconds` late, so it may sign
    # with a key that long after the key retired; its tokens live `access_token_ttl`.
    return retired_at + timedelta(seconds=settings.access_token_ttl + settings.signing_key_cache_seconds) + PUBLICATION_MARGIN


async def _create_key(session: AsyncSession, cipher: FieldCipher, *, origin: str, activated_at: datetime) -> SigningKey:
    new = generate_key()
    row = SigningKey(
        kid=new.kid,
        private_key_cipher=seal(cipher, new.kid, new.private_raw),
        public_jwk=new.public_jwk,
        origin=origin,
        activated_at=activated_at,
    )
    return await repository.add_key(session, row)


async def ensure_signing_key(
    session: AsyncSession, cipher: FieldCipher, settings: GatewaySettings, *, origin: str
) -> tuple[KeyRecord, bool]:
    """The key signing now, made if there is none; (key, whether it was made).

    `origin` OPERATOR (`sprout keys ensure`) accepts only an operator's key: a key some
    gateway generated for itself is replaced, retiring now (still published until its tokens
    have expired). GENERATED (a gateway starting off production) accepts any key.
    """
    await repository.lock_signing_keys(session)
    now = clock.now()
    rows = await repository.all_keys(session)
    acceptable = [_record(r) for r in rows if origin == GENERATED or r.origin == OPERATOR]
    signer = signer_of(acceptable, now)
    if signer is not None:
        return signer, False
    for row in rows:
        if _record(row).signs_at(now):
            row.retired_at = now
            row.published_until = _publication_end(settings, now)
    await session.flush()
    new = await _create_key(session, cipher, origin=origin, activated_at=now)
    return _record(new), True


async def startup_signing_key(session: AsyncSession, cipher: FieldCipher, settings: GatewaySettings) -> KeyRecord:
    """What the gateway checks before it serves: a key it may sign with, and can open."""
    if settings.autogenerate_signing_key:
        signer, made = await ensure_signing_key(session, cipher, settings, origin=GENERATED)
        if made:
            log.warning("no signing key found: generated one (development only)", extra={"kid": signer.kid})
    else:
        records = [_record(r) for r in await repository.all_keys(session)]
        signer = signer_of(records, clock.now())
        if signer is None:
            raise NoSigningKey(
                "no signing key is active and this gateway may not make one (production): "
                "run `sprout keys ensure` (or `sprout keys rotate`) as part of the deployment"
            )
        if signer.origin != OPERATOR and settings.env == "production":
            raise NoSigningKey(
                f"the active signing key {signer.kid} was generated by a gateway for itself, which production "
                "refuses: run `sprout keys rotate --now` to provision an operator key"
            )
    # Fail now, not on the first sign-in, when the key ring no longer opens the key.
    unseal(cipher, signer.kid, signer.private_cipher)
    return signer


async def rotate_signing_key(
    session: AsyncSession, cipher: FieldCipher, settings: GatewaySettings, *, delay: float
) -> tuple[KeyRecord, list[KeyRecord]]:
    """A new operator key, published now and signing `delay` seconds from now, when every key
    signing until then retires (still published until their last tokens have expired)."""
    await repository.lock_signing_keys(session)
    now = clock.now()
    activation = now + timedelta(seconds=delay)
    retired = []
    for row in await repository.all_keys(session):
        if row.retired_at is None or row.retired_at > activation:
            row.retired_at = max(activation, row.activated_at)
            row.published_until = _publication_end(settings, row.retired_at)
            retired.append(row)
    await session.flush()
    new = await _create_key(session, cipher, origin=OPERATOR, activated_at=activation)
    return _record(new), [_record(r) for r in retired]


async def list_signing_keys(session: AsyncSession) -> list[KeyRecord]:
    return [_record(r) for r in await repository.all_keys(session)]


async def reseal_signing_keys(session: AsyncSession, cipher: FieldCipher) -> int:
    """Re-seal every private key with the key ring's newest key (for `sprout pii rotate`, so
    an old personal-data key can leave the ring without taking the signing keys with it)."""
    # The same lock as rotation and provisioning, so neither overwrites the other's rows.
    await repository.lock_signing_keys(session)
    count = 0
    for row in await repository.all_keys(session):
        if row.private_key_cipher is not None:
            resealed = cipher.rotate(row.private_key_cipher, aad=private_key_aad(row.kid))
            if resealed is not None:
                row.private_key_cipher = resealed
                count += 1
    await session.flush()
    return count


async def housekeeping(session: AsyncSession, settings: GatewaySettings) -> dict[str, int]:
    """Wipe retired private keys, drop long-expired refresh tokens, forgotten login failures, and
    revocations older than any token they could refuse."""
    now = clock.now()
    # Revocations are stamped with the system clock, like the tokens' `iat` they are compared with.
    tokens_issued_since = revocations.system_now() - timedelta(seconds=settings.access_token_ttl) - PUBLICATION_MARGIN
    return {
        "revocations_purged": await revocations.purge(session, before=tokens_issued_since),
        "private_keys_wiped": await repository.wipe_retired_private_keys(session, now),
        # A day past expiry: an expired token is refused anyway, and a day keeps it findable.
        "refresh_tokens_deleted": await repository.delete_expired_refresh_tokens(session, now - timedelta(days=1)),
        "login_throttles_forgotten": await login.forget_old(session, now, login.LoginPolicy.of(settings)),
    }


# ---------------------------------------------------------------- machine clients


async def create_client(
    session: AsyncSession, *, client_id: str, name: str, role: str, scopes: list[str], partner_id: uuid.UUID | None
) -> tuple[Client, str]:
    """A new machine client and its secret, which is shown this once and stored only as a digest."""
    if (role == "partner") != (partner_id is not None):
        raise ProblemError("client_partner_required")
    if partner_id is not None and await repository.partner(session, partner_id) is None:
        raise ProblemError("client_partner_unknown", partner=str(partner_id))
    if await repository.client_by_client_id(session, client_id) is not None:
        raise ProblemError("client_id_taken", client_id=client_id)
    secret = credentials.new_secret()
    client = Client(
        id=uuid.uuid4(),
        client_id=client_id,
        secret_hash=credentials.secret_hash(secret),
        name=name,
        roles=[role],
        scopes=sorted(set(scopes)),
        partner_id=partner_id,
        disabled=False,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            await repository.add_client(session, client)
    except IntegrityError:  # created by a concurrent request since the check above
        raise ProblemError("client_id_taken", client_id=client_id) from None
    return client, secret


async def get_client(session: AsyncSession, client_id: str) -> Client:
    client = await repository.client_by_client_id(session, client_id) if valid_name(client_id) else None
    if client is None:
        raise ProblemError("client_not_found", client_id=client_id)
    return client


async def update_client(
    session: AsyncSession, client_id: str, *, name: str | None = None, scopes: list[str] | None = None, disabled: bool | None = None
) -> Client:
    """Rename, re-scope, disable or enable a client. A disabled client gets no new tokens, and
    every service refuses those it holds once this commits."""
    client = await get_client(session, client_id)
    if disabled and not client.disabled:
        await revocations.revoke(session, kind=revocations.CLIENT, subject=client.client_id, reason="client_disabled")
    if name is not None:
        client.name = name
    if scopes is not None:
        client.scopes = sorted(set(scopes))
    if disabled is not None:
        client.disabled = disabled
    await session.flush()
    return client


async def reset_client_secret(session: AsyncSession, client_id: str) -> tuple[Client, str]:
    """A new secret; the old one stops working, and so do the tokens got with it (it may have leaked)."""
    client = await get_client(session, client_id)
    await revocations.revoke(session, kind=revocations.CLIENT, subject=client.client_id, reason="client_secret_reset")
    secret = credentials.new_secret()
    client.secret_hash = credentials.secret_hash(secret)
    await session.flush()
    return client, secret
