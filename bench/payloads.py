"""Request bodies: unique prompt per request (so no cache can answer), in a chosen size."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import msgspec

from bench.cells import MODEL

PROSE = (
    "Thanks for the update on the quarterly report. The migration finished on schedule and the new "
    "dashboards look good. Please send the draft to alice@example.com before Friday, or call me on "
    "(212) 555-0188 if anything is unclear. We still need to review the budget and the hiring plan. "
)


def prompt_text(size: int, serial: int) -> str:
    """A prompt of about `size` bytes that starts with a unique serial."""
    head = f"[req {serial:012d}] "
    body_size = max(size - len(head), 0)
    return head + (PROSE * (body_size // len(PROSE) + 1))[:body_size]


def chat_body(prompt_bytes: int, serial: int, *, stream: bool = False, max_tokens: int | None = None,
              model: str = MODEL) -> bytes:
    """An OpenAI chat-completions request body."""
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": prompt_text(prompt_bytes,
                                                                                                   serial)}]}
    if stream:
        body["stream"] = True
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return msgspec.json.encode(body)


def body_factory(prompt_bytes: int, *, stream: bool = False, max_tokens: int | None = None,
                 model: str = MODEL) -> Callable[[], bytes]:
    """A callable returning a fresh unique body on every call."""
    serials: Iterator[int] = itertools.count()
    return lambda: chat_body(prompt_bytes, next(serials), stream=stream, max_tokens=max_tokens, model=model)


def wrk_lua(prompt_bytes: int, headers: dict[str, str], model: str = MODEL) -> str:
    """A wrk Lua script that POSTs a unique body per request (the serial is the wrk request counter)."""
    filler = prompt_text(prompt_bytes, 0)[len("[req 000000000000] "):]
    header_lines = "\n".join(f'wrk.headers[{msgspec.json.encode(k).decode()}] = {msgspec.json.encode(v).decode()}'
                             for k, v in headers.items())
    prefix = msgspec.json.encode({"model": model, "messages": [{"role": "user", "content": "\x00"}]}).decode()
    head, tail = prefix.split("\\u0000")
    return f"""wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{header_lines}
local counter = 0
local head = {msgspec.json.encode(head).decode()}
local tail = {msgspec.json.encode(tail).decode()}
local filler = {msgspec.json.encode(filler).decode()}
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. string.format("[req %012d] ", counter) .. filler .. tail)
end
done = function(summary, latency, requests)
  io.write("PCTL")
  for _, p in ipairs({{50, 90, 99, 99.9}}) do
    io.write(string.format(" %g=%d", p, latency:percentile(p)))
  end
  io.write("\\n")
end
"""
