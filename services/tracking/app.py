"""The tracking service's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI

from services.tracking.db import directory
from services.tracking.enrolment.router import router as enrolment
from services.tracking.events import consumers
from services.tracking.settings import TrackingSettings
from services.tracking.timeline.router import router as timeline
from shared.app import create_service_app, service_tree


def create_app(settings: TrackingSettings | None = None) -> FastAPI:
    settings = settings or TrackingSettings()
    return create_service_app(
        settings,
        title="Sprout tracking",
        description="Tracking: enrolment lifecycle, periodic evaluations, exits, stage transitions and university recommendations.",
        routers=[enrolment, timeline],
        migration_tree=service_tree("tracking", Path(__file__).parent),
        consumers=consumers,
        directory=directory,
    )
