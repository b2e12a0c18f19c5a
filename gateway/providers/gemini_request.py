"""Translate an OpenAI chat request body into a Gemini `generateContent` request body."""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from gateway.errors import InvalidRequest
from schemas.chat import JsonObject

# JSON Schema keywords outside the OpenAPI subset Gemini's `parameters` accepts.
_SCHEMA_KEYS_DROPPED = frozenset({"$schema", "additionalProperties", "strict", "$id", "$defs", "definitions"})
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _clean_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k not in _SCHEMA_KEYS_DROPPED}
    if isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


def _text_of(content: Any, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise InvalidRequest(f"{param}: content must be a string or a list of parts", param=param)


def _inline(uri: str, param: str) -> dict[str, Any]:
    header, sep, data = uri.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise InvalidRequest(f"{param}: data URIs must be base64 (data:<type>;base64,...)", param=param)
    return {"inlineData": {"mimeType": header[5:-7], "data": data}}


def _media_part(url: Any, param: str) -> dict[str, Any]:
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"{param}: a URL or data URI is required", param=param)
    if url.startswith("data:"):
        return _inline(url, param)
    if url.startswith(("http://", "https://", "gs://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "application/octet-stream"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise InvalidRequest(f"{param}: URL must be http(s), gs:// or a base64 data URI", param=param)


def _user_parts(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{param}: content must be a string or a list of parts", param=param)
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{param}.content[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text") or "")})
        elif kind == "image_url":
            image = part.get("image_url")
            parts.append(_media_part(image.get("url") if isinstance(image, dict) else image, where))
        elif kind == "file":
            file = part.get("file") if isinstance(part.get("file"), dict) else {}
            parts.append(_media_part(file.get("file_data"), where))
        else:
            raise InvalidRequest(f"{where}: part type {kind!r} is not supported by Gemini", param=where)
    return parts


def _function_call(call: dict[str, Any], param: str) -> dict[str, Any]:
    function = call.get("function") or {}
    raw = function.get("arguments")
    try:
        args = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{param}: tool call arguments are not valid JSON", param=param) from exc
    return {"functionCall": {"name": function.get("name") or "", "args": args}}


def _function_response(message: dict[str, Any], names: dict[str, str], param: str) -> dict[str, Any]:
    name = names.get(str(message.get("tool_call_id"))) or message.get("name")
    if not name:
        raise InvalidRequest(f"{param}: tool_call_id matches no earlier assistant tool call", param=param)
    text = _text_of(message.get("content"), param)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def translate_messages(messages: list[Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """systemInstruction plus `contents` with roles user/model; same-role turns merged."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id → function name (functionResponse needs the name)
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{param}: must be an object", param=param)
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content"), param))
            continue
        if role == "user":
            gemini_role, parts = "user", _user_parts(message.get("content"), param)
        elif role == "assistant":
            text = _text_of(message.get("content"), param)
            parts = [{"text": text}] if text else []
            for j, call in enumerate(message.get("tool_calls") or ()):
                names[str(call.get("id"))] = (call.get("function") or {}).get("name") or ""
                parts.append(_function_call(call, f"{param}.tool_calls[{j}]"))
            gemini_role = "model"
        elif role == "tool":
            gemini_role, parts = "user", [_function_response(message, names, param)]
        else:
            raise InvalidRequest(f"{param}: role {role!r} is not supported by Gemini", param=param)
        if not parts:
            continue
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
    instruction = {"parts": [{"text": "\n\n".join(system)}]} if system else None
    return instruction, contents


def translate_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """OpenAI function tools → one Gemini tool with functionDeclarations."""
    declarations = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest(f"tools[{i}]: only function tools are supported", param=f"tools[{i}]")
        declaration: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parameters"] = _clean_schema(function["parameters"])
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def translate_tool_choice(choice: Any) -> dict[str, Any] | None:
    """auto/none/required/named → toolConfig.functionCallingConfig."""
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _MODES:
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    raise InvalidRequest("tool_choice: unsupported value", param="tool_choice")


def generation_config(body: JsonObject) -> dict[str, Any]:
    """OpenAI sampling and output parameters → generationConfig."""
    config: dict[str, Any] = {}
    simple = {
        "temperature": "temperature",
        "top_p": "topP",
        "n": "candidateCount",
        "seed": "seed",
        "presence_penalty": "presencePenalty",
        "frequency_penalty": "frequencyPenalty",
    }
    for openai_name, gemini_name in simple.items():
        if body.get(openai_name) is not None:
            config[gemini_name] = body[openai_name]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = _clean_schema(schema)
    return config


def gemini_body(body: JsonObject) -> dict[str, Any]:
    """The generateContent body for an OpenAI chat body."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages must be a list", param="messages")
    instruction, contents = translate_messages(messages)
    out: dict[str, Any] = {"contents": contents}
    if instruction:
        out["systemInstruction"] = instruction
    if body.get("tools"):
        out["tools"] = translate_tools(body["tools"])
        tool_config = translate_tool_choice(body.get("tool_choice"))
        if tool_config:
            out["toolConfig"] = tool_config
    config = generation_config(body)
    if config:
        out["generationConfig"] = config
    return out
