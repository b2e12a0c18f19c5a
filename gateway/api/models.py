"""GET /v1/models: the models the operator configured, per provider, plus aliases."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from gateway.services import Services


class ModelCard(msgspec.Struct, kw_only=True):
    """One entry of the OpenAI model list."""

    id: str
    object: str = "model"
    created: int = 0
    owned_by: str


class ModelList(msgspec.Struct, kw_only=True):
    """The OpenAI list envelope."""

    object: str = "list"
    data: list[ModelCard]


def list_models(services: Services) -> ModelList:
    """Every configured model as `provider/model`, bare names, then aliases."""
    cards: list[ModelCard] = []
    seen: set[str] = set()
    for name, provider in services.settings.providers.items():
        for model in provider.models:
            for model_id in (f"{name}/{model}", model):
                if model_id not in seen:
                    seen.add(model_id)
                    cards.append(ModelCard(id=model_id, owned_by=name))
    for alias in services.settings.aliases:
        if alias not in seen:
            cards.append(ModelCard(id=alias, owned_by="portcullis-alias"))
    return ModelList(data=cards)


@get("/v1/models")
async def models(request: Request[Any, Any, Any]) -> Response[bytes]:
    """List models."""
    body = msgspec.json.encode(list_models(request.app.state.services))
    return Response(body, media_type="application/json")
