"""OpenAI- and Anthropic-compatible HTTP API over Longhand's engine.

    mount(app, ctx)                        the app's own port, beside the Gradio UI
    create_api_app(settings, provider)     a FastAPI app with only the API (--api-only, tests)

Routes: GET /healthz, GET /v1/models, GET /v1/models/{id}, POST /v1/chat/completions,
POST /v1/responses, GET /v1/responses/{id}, POST /v1/messages, POST /v1/messages/count_tokens.
Layers (STYLE.md convention 6): wire.py, tool_wire.py and responses_wire.py (pydantic models),
service.py + engine_stream.py + queue.py (the adapter to the engine's stream),
openai_routes.py / responses_routes.py / anthropic_routes.py (thin routes; responses_store.py
keeps Responses-API answers), catalog.py + aliases.py (model names), routing.py + errors.py
(the one error handler), auth.py (the admin key), client_access.py + rate_limits.py +
usage_log.py (client keys, their limits, one usage row per request), sse.py (framing).
Does not import torch: the backend comes from `backend_provider()` on first use.
"""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from workbench.config import Settings

from . import anthropic_routes, openai_routes, responses_routes
from .auth import ensure_safe_bind
from .catalog import BackendProvider, Catalog
from .client_access import ClientAccess
from .engine_stream import GenerationRunner
from .errors import unknown_model
from .routing import MAX_BODY_BYTES, add_unknown_route, api_router
from .service import ApiState
from .usage_log import UsageLog
from .wire import ModelCard, ModelList

__all__ = ["mount", "create_api_app", "ApiState"]


def build_router(settings: Settings, backend_provider: BackendProvider, *, workers: int = 1,
                 max_body_bytes: int = MAX_BODY_BYTES, adapter_store=None, remotes=None,
                 client_keys=None, usage_store=None) -> tuple[APIRouter, ApiState]:
    """All API routes over one backend; refuses an off-loopback bind without a key.

    `adapter_store` (library.adapters_store.AdapterStore): its finished adapters are served
    as `base+adapter`; `remotes` (workbench.remote_models.RemoteModels): its models by name;
    `client_keys` (workbench.client_keys.ClientKeys) and `usage_store`
    (library.usage_store.UsageStore): client keys gate the API and every generation request
    leaves a usage row."""
    ensure_safe_bind(settings)
    state = ApiState(settings, Catalog(settings, backend_provider, adapter_store, remotes),
                     GenerationRunner(settings.api_queue_size, workers))
    access = None
    if client_keys is not None and usage_store is not None:
        state.usage = UsageLog(usage_store)
        access = ClientAccess(settings, client_keys, state.usage,
                              aliases=state.catalog.aliases.target,
                              avg_seconds=lambda: state.runner.queue.avg_seconds)
    router = api_router(settings, max_body_bytes, access)
    _add_common_routes(router, state, access)
    openai_routes.add_routes(router, state)
    anthropic_routes.add_routes(router, state)
    responses_routes.add_routes(router, state)
    add_unknown_route(router)
    return router, state


def mount(app: FastAPI, ctx) -> ApiState:
    """Add the API to the app. `ctx` has `settings` and `backend()` (workbench.context), and
    usually a `workbench`, whose library's finished adapters are served as `base+adapter`."""
    from workbench.adapters.service import open_store

    workbench = getattr(ctx, "workbench", None)
    store = open_store(workbench.library) if workbench is not None else None
    remotes = workbench.remotes if workbench is not None else None
    keys = workbench.client_keys if workbench is not None else None
    usage = workbench.usage if workbench is not None else None
    router, state = build_router(ctx.settings, ctx.backend, adapter_store=store,
                                 remotes=remotes, client_keys=keys, usage_store=usage)
    before = len(app.router.routes)
    app.include_router(router)
    ours = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = ours  # ahead of a catch-all mount such as Gradio's "/"
    return state


def create_api_app(settings: Settings, backend_provider: BackendProvider, *,
                   workers: int = 1, max_body_bytes: int = MAX_BODY_BYTES,
                   adapter_store=None) -> FastAPI:
    app = FastAPI(title="Longhand API", docs_url=None, redoc_url=None, openapi_url=None)
    router, state = build_router(settings, backend_provider, workers=workers,
                                 max_body_bytes=max_body_bytes, adapter_store=adapter_store)
    app.include_router(router)
    app.state.api = state
    return app


def _add_common_routes(router: APIRouter, state: ApiState,
                       access: ClientAccess | None = None) -> None:
    def card(model_id: str) -> ModelCard:
        window = state.catalog.context_window(model_id)
        created = state.catalog.created(model_id)
        return ModelCard(id=model_id, display_name=model_id, context_window=window,
                         max_input_tokens=window, created=created,
                         created_at=datetime.fromtimestamp(created, timezone.utc)
                         .strftime("%Y-%m-%dT%H:%M:%SZ"))

    @router.get("/healthz")
    async def healthz():
        queue = state.runner.queue
        return {"status": "ok", "model": state.settings.model,
                "queue": {"running": queue.running, "waiting": queue.waiting,
                          "size": queue.size}}

    async def visible_ids(request: Request) -> list[str]:
        """The served ids, less those the caller's client key may not use (not even named)."""
        ids = await run_in_threadpool(state.catalog.model_ids)
        caller = getattr(request.state, "caller", None)
        if caller is None or access is None:
            return ids
        return [i for i in ids if access.may_use(caller.key, i)]

    @router.get("/v1/models")
    async def list_models(request: Request):
        ids = await visible_ids(request)
        cards = await run_in_threadpool(lambda: [card(i) for i in ids])  # reads the library
        return ModelList(data=cards, first_id=ids[0] if ids else None,
                         last_id=ids[-1] if ids else None).model_dump()

    @router.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request):
        """A listed id, or an alias (`claude-*`): the card of its target, named as asked."""
        ids = await visible_ids(request)
        target = model_id if model_id in ids else state.catalog.aliases.target(model_id)
        if target not in ids:
            raise unknown_model(model_id, ids)
        found = await run_in_threadpool(card, target)
        return found.model_copy(update={"id": model_id, "display_name": model_id}).model_dump()
