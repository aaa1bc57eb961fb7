"""The mentoring service's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI

from services.mentoring.db import chain, directory
from services.mentoring.events import consumers
from services.mentoring.lectures.router import router as lectures
from services.mentoring.mentors.router import router as mentors
from services.mentoring.mentorships.router import router as mentorships
from services.mentoring.projects.router import router as projects
from services.mentoring.rounds.router import router as rounds
from services.mentoring.runs.router import router as runs
from services.mentoring.settings import MentoringSettings
from shared.app import create_service_app, service_tree
from shared.chain_api import record_router


def create_app(settings: MentoringSettings | None = None) -> FastAPI:
    settings = settings or MentoringSettings()
    return create_service_app(
        settings,
        title="Sprout mentoring",
        description="Mentors: the registry, matching each admitted student to a lab mentor and a life mentor, mentorships with their meetings and goals, research projects and defenses, lectures.",
        routers=[mentors, rounds, runs, mentorships, projects, lectures, record_router(chain)],
        migration_tree=service_tree("mentoring", Path(__file__).parent),
        consumers=consumers,
        directory=directory,
    )
