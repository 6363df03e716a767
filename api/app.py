"""The FastAPI application: wiring, GraphQL, offline docs and pages (errors: api.errors)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.admin_routes import router as admin_router
from api.audit import audit_requests
from api.body_limit import BodyLimit
from api.credentials_first import CredentialsFirst
from api.deps import Services, planner
from api.epcis_routes import router as epcis_router
from api.errors import install as install_error_handlers
from api.federation.routes import router as federation_router
from api.graphql.context import get_context
from api.graphql.router import PATH as GRAPHQL
from api.graphql.router import Router
from api.graphql.schema import schema
from api.head_requests import HeadAsGet
from api.identifier_routes import router as identifier_router
from api.landing import landing_page
from api.no_store import NoStore
from api.recall_routes import router as recall_router
from api.routes import router
from api.settings import Settings, get_settings
from scheduler.routes import router as schedules

STATIC = Path(__file__).parent / "static"
# The paths whose bodies may be as large as the settings allow (events, EPCIS documents, a
# supplier's answer with its documents, a plant's plan, GraphQL); every other body is small.
LARGE_BODIES = (
    "/api/v1/events",
    "/api/v1/epcis/",
    "/api/v1/recalls/",
    "/api/v1/schedules",
    GRAPHQL,
)
# What the /docs page loads of Swagger UI: its other files (a page of its own that opens the
# petstore example, the OAuth2 redirect page, templates and source maps) are not served.
SWAGGER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


class _Named(StaticFiles):
    """Static files of a directory, only those named."""

    def __init__(self, directory: str, names: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self.names = names

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        return super().lookup_path(path) if path in self.names else ("", None)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app on the store the settings name (or on ready-made services, for tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = services is None
        app.state.services = services or Services.from_settings(settings)
        yield
        if own:
            app.state.services.close()

    app = FastAPI(
        title="tracegraph",
        summary="Lot and serial genealogy for medical-device and discrete manufacturing",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: the docs must work with no network
        redoc_url=None,
    )
    app.state.settings = settings
    # Each middleware added runs outside those added before. Bodies are bounded inside the
    # credentials check (a caller without valid ones is told 401 before its length matters), and
    # both inside the audit, so their refusals are logged like any other. HEAD runs as GET inside
    # them all: checked as the GET would be, and logged as the HEAD it was.
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, large=LARGE_BODIES)
    app.add_middleware(CredentialsFirst)
    app.middleware("http")(audit_requests)
    app.add_middleware(NoStore)  # outside all: their own refusals are marked too

    install_error_handlers(app)

    app.mount(
        "/static/swagger", _Named(swagger_ui_bundle.swagger_ui_path, SWAGGER_FILES), "swagger"
    )
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), "static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="tracegraph API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
            # Otherwise Swagger UI sends the address of this document to validator.swagger.io
            # for a badge, from any host but localhost.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/graphiql", include_in_schema=False)
    def graphiql() -> FileResponse:
        return FileResponse(STATIC / "graphiql.html")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> str:
        listening = f"http://{settings.host}:{settings.port}"
        return landing_page(str(request.base_url), demo=settings.demo, listening=listening)

    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(recall_router)
    app.include_router(identifier_router)
    app.include_router(federation_router)
    app.include_router(epcis_router)
    app.include_router(schedules, prefix="/api/v1/schedules", dependencies=[Depends(planner)])
    app.include_router(Router(schema, context_getter=get_context, graphql_ide=None), prefix=GRAPHQL)
    return app
