"""The courses service's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI

from services.courses.applications.router import router as applications
from services.courses.catalogue.router import router as catalogue
from services.courses.db import chain, directory
from services.courses.events import consumers
from services.courses.registration.router import router as registration
from services.courses.results.router import router as results
from services.courses.settings import CoursesSettings
from shared.app import create_service_app, service_tree
from shared.chain_api import record_router


def create_app(settings: CoursesSettings | None = None) -> FastAPI:
    settings = settings or CoursesSettings()
    return create_service_app(
        settings,
        title="Sprout courses",
        description="Courses: the catalogue, sections, cross-school registration with waitlists, exemptions and grade skips, attendance and final results.",
        routers=[catalogue, registration, applications, results, record_router(chain)],
        migration_tree=service_tree("courses", Path(__file__).parent),
        consumers=consumers,
        directory=directory,
    )
