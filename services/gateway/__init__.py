"""The gateway service. The front door: proxies /api/<service>/ to each service, serves the combined API docs, and owns identity, tokens, consent and limits."""
