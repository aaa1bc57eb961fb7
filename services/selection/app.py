"""The selection service's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI

from services.selection.assessments.router import router as assessments
from services.selection.campaigns.router import router as campaigns
from services.selection.db import chain, directory
from services.selection.events import consumers
from services.selection.nominations.router import router as nominations
from services.selection.panels.router import router as experts
from services.selection.results.router import router as results
from services.selection.settings import SelectionSettings
from shared.app import create_service_app, service_tree
from shared.chain_api import record_router


def create_app(settings: SelectionSettings | None = None) -> FastAPI:
    settings = settings or SelectionSettings()
    return create_service_app(
        settings,
        title="Sprout selection",
        description="Selection campaigns: nominations, assessments, expert panels, ranking, publication and objections.",
        routers=[campaigns, nominations, assessments, experts, results, record_router(chain)],
        migration_tree=service_tree("selection", Path(__file__).parent),
        consumers=consumers,
        directory=directory,
    )
