"""Events the gateway service publishes and the consumers of those it takes in.

The gateway publishes the directory (services/gateway/directory/, contracts in
shared/events/contracts/identity.py) and consumes only its own timer, `identity.person.turns_14`.
"""

from services.gateway.directory import timers

consumers: list = [timers.consumer]
