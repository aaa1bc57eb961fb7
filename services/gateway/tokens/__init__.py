"""Tokens: signing keys and JWKS, the OAuth2 token endpoint, refresh tokens, revocation, machine clients."""
