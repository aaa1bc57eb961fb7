"""Events the selection service publishes and the consumers of those it takes in.

`selection.timers` takes the service's own timers: a stage's deadline closes the stage.
"""

from services.selection.campaigns import service as campaigns
from services.selection.db import directory
from shared.events import Consumer

timers = Consumer("selection.timers", {"selection.stage.deadline": campaigns.on_deadline})

consumers: list = [directory.consumer, timers]
