"""The FastAPI application: wiring, error rendering and the landing page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import Services
from api.landing import landing_page
from api.routes import router
from api.settings import Settings, get_settings
from graph.errors import DomainError
from scheduler.routes import router as schedules


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app on the store the settings name (or on ready-made services, for tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = services is None
        app.state.services = services or Services.from_settings(settings)
        yield
        if own:
            app.state.services.store.close()

    app = FastAPI(
        title="tracegraph",
        summary="Lot and serial genealogy for medical-device and discrete manufacturing",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.status_code)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> str:
        return landing_page(request.app.state.services.store)

    app.include_router(router)
    app.include_router(schedules, prefix="/api/v1/schedules")
    return app
