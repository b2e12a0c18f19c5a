"""Translate an OpenAI chat request body into an Anthropic Messages request body."""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import InvalidRequest
from gateway.providers.base import ProviderTarget
from schemas.chat import JsonObject

# OpenAI parameters Anthropic has no equivalent for; they are left out of the upstream body.
IGNORED_PARAMS = frozenset(
    {
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "seed",
        "logprobs",
        "top_logprobs",
        "store",
        "service_tier",
        "modalities",
        "prediction",
        "audio",
        "reasoning_effort",
        "web_search_options",
    }
)
# Anthropic-native fields a caller may send through the OpenAI route; passed unchanged.
NATIVE_PASSTHROUGH = ("top_k", "thinking")
MAX_TEMPERATURE = 1.0


def _text_of(content: Any, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise InvalidRequest(f"{param}: only text parts are allowed here", param=param)
            texts.append(str(part.get("text") or ""))
        return "".join(texts)
    raise InvalidRequest(f"{param}: content must be a string or a list of parts", param=param)


def _data_uri_source(uri: str, param: str) -> dict[str, Any]:
    header, sep, data = uri.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise InvalidRequest(f"{param}: data URIs must be base64 (data:<type>;base64,...)", param=param)
    return {"type": "base64", "media_type": header[5:-7], "data": data}


def _image_block(part: dict[str, Any], param: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"{param}: image_url.url is required", param=param)
    if url.startswith("data:"):
        return {"type": "image", "source": _data_uri_source(url, param)}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest(f"{param}: image URL must be http(s) or a base64 data URI", param=param)


def _file_block(part: dict[str, Any], param: str) -> dict[str, Any]:
    file = part.get("file") if isinstance(part.get("file"), dict) else {}
    data = file.get("file_data")
    if not isinstance(data, str) or not data.startswith("data:"):
        raise InvalidRequest(f"{param}: only inline file_data (base64 data URI) files are supported", param=param)
    return {"type": "document", "source": _data_uri_source(data, param)}


def _user_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{param}: content must be a string or a list of parts", param=param)
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{param}.content[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "image_url":
            blocks.append(_image_block(part, where))
        elif kind == "file":
            blocks.append(_file_block(part, where))
        else:
            raise InvalidRequest(f"{where}: part type {kind!r} is not supported by Anthropic", param=where)
    return blocks


def _tool_arguments(raw: Any, param: str) -> Any:
    if isinstance(raw, dict):
        return raw
    if raw in (None, ""):
        return {}
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{param}: tool call arguments are not valid JSON", param=param) from exc


def _assistant_blocks(message: dict[str, Any], param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _text_of(message.get("content"), param)
    if text:
        blocks.append({"type": "text", "text": text})
    for i, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{i}",
                "name": function.get("name") or "",
                "input": _tool_arguments(function.get("arguments"), f"{param}.tool_calls[{i}]"),
            }
        )
    return blocks


def _tool_result_block(message: dict[str, Any], param: str) -> dict[str, Any]:
    if not message.get("tool_call_id"):
        raise InvalidRequest(f"{param}: tool messages need tool_call_id", param=param)
    return {
        "type": "tool_result",
        "tool_use_id": message["tool_call_id"],
        "content": _text_of(message.get("content"), param),
    }


def translate_messages(messages: list[Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split system text from the turns; merge same-role neighbours (tool results join one user turn)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{param}: must be an object", param=param)
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content"), param))
            continue
        if role == "user":
            anthropic_role, blocks = "user", _user_blocks(message.get("content"), param)
        elif role == "assistant":
            anthropic_role, blocks = "assistant", _assistant_blocks(message, param)
        elif role == "tool":
            anthropic_role, blocks = "user", [_tool_result_block(message, param)]
        else:
            raise InvalidRequest(f"{param}: role {role!r} is not supported by Anthropic", param=param)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == anthropic_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": anthropic_role, "content": blocks})
    return ("\n\n".join(system) if system else None), turns


def translate_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """OpenAI function tools → Anthropic tools with input_schema."""
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type", "function") != "function" or not function:
            raise InvalidRequest(f"tools[{i}]: only function tools are supported", param=f"tools[{i}]")
        entry: dict[str, Any] = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def translate_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    """auto/none/required/named → Anthropic tool_choice; parallel_tool_calls=false disables parallel use."""
    result: dict[str, Any] | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "none":
        result = {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise InvalidRequest("tool_choice: unsupported value", param="tool_choice")
    if parallel is False:
        result = dict(result or {"type": "auto"})
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result


def _check_sampling(body: JsonObject) -> None:
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= MAX_TEMPERATURE:
        raise InvalidRequest(
            f"temperature must be between 0 and {MAX_TEMPERATURE} for Anthropic models (got {temperature})",
            param="temperature",
        )
    n = body.get("n")
    if n not in (None, 1):
        raise InvalidRequest("n: Anthropic returns one choice per request; n must be 1", param="n")


def anthropic_body(body: JsonObject, target: ProviderTarget, *, stream: bool) -> dict[str, Any]:
    """The Anthropic Messages body for an OpenAI chat body."""
    _check_sampling(body)
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be a list", param="messages")
    system, turns = translate_messages(messages)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or target.default_max_tokens
    out: dict[str, Any] = {"model": target.model, "max_tokens": max_tokens, "messages": turns}
    if system:
        out["system"] = system
    for name in ("temperature", "top_p", *NATIVE_PASSTHROUGH):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        out["tools"] = translate_tools(body["tools"])
    tool_choice = translate_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if tool_choice is not None and out.get("tools"):
        out["tool_choice"] = tool_choice
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    if stream:
        out["stream"] = True
    return out
