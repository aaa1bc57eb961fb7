"""The gateway's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI

from services.gateway.events import consumers
from services.gateway.settings import GatewaySettings
from shared.app import create_service_app, service_tree


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    return create_service_app(
        settings,
        title="Sprout gateway",
        description="The front door of the Sprout API.",
        routers=[],
        migration_tree=service_tree("gateway", Path(__file__).parent),
        consumers=consumers,
    )
