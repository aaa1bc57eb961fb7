"""The gateway service. The front door: proxies /api/<service>/ to each service, serves the combined API docs, and (next) owns identity and tokens."""
