"""The directory the gateway publishes: people, guardian links, schools, partners and consents.

- `versions.py`: the `directory_version` every record carries, from one sequence.
- `records.py`: one function per record kind, from the row to its contract model
  (shared/events/contracts/identity.py); the events and the snapshot both use them.
- `publisher.py`: what the identity and consent code calls, in the transaction of each
  change, to publish it (and the under-14 timer).
- `timers.py`: the gateway's consumer of its own timer `identity.person.turns_14`.
- `router.py`: `GET /directory/...`, the snapshot a service's read model loads when it
  starts empty or is resynced.
"""
