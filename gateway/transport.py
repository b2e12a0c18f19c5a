"""The shared upstream HTTP client, and the one place where httpx errors become ProviderError."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.errors import ProviderTimeout, ProviderUnavailable
from gateway.providers.base import UpstreamRequest


@contextlib.contextmanager
def provider_errors(provider: str) -> Iterator[None]:
    """Translate transport exceptions into ProviderError subclasses naming the provider (never the URL)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, asyncio.TimeoutError):
            # httpx-aiohttp maps every aiohttp connection error to ConnectTimeout; a refused connection is not one
            raise ProviderUnavailable(f"{provider} is unreachable", provider=provider) from exc
        raise ProviderTimeout(f"{provider} did not answer in time", provider=provider) from exc
    except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
        raise ProviderUnavailable(f"{provider} is unreachable", provider=provider) from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{provider} connection failed: {type(exc).__name__}", provider=provider) from exc
    except (aiohttp.ClientError, ConnectionError, OSError) as exc:
        raise ProviderUnavailable(f"{provider} connection failed: {type(exc).__name__}", provider=provider) from exc


def _aiohttp_leftover(response: httpx.Response) -> bytes:
    """What aiohttp still buffers when its payload failed: its StreamReader raises the stored error before
    returning buffered data, so the last bytes of a cut stream would otherwise be lost (pinned aiohttp 3.14)."""
    stream = getattr(response.stream, "_stream", response.stream)
    content = getattr(getattr(stream, "_aiohttp_response", None), "content", None)
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)
    buffer.clear()
    return data


class UpstreamResponse:
    """An upstream answer whose body may still be streaming; always close it."""

    __slots__ = ("_provider", "_response")

    def __init__(self, response: httpx.Response, provider: str) -> None:
        self._response = response
        self._provider = provider

    @property
    def status(self) -> int:
        """HTTP status."""
        return self._response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """Response headers (case-insensitive)."""
        return self._response.headers

    async def read(self) -> bytes:
        """Read the whole body."""
        with provider_errors(self._provider):
            return await self._response.aread()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield body bytes as they arrive (no buffering beyond the socket read); bytes that arrived together
        with a cut connection are yielded before the error."""
        with provider_errors(self._provider):
            try:
                async for chunk in self._response.aiter_raw():
                    yield chunk
            except httpx.HTTPError:
                leftover = _aiohttp_leftover(self._response)
                if leftover:
                    yield leftover
                raise

    async def close(self) -> None:
        """Release the connection; an unfinished body closes it, which aborts the upstream request."""
        with contextlib.suppress(Exception):
            await self._response.aclose()


class Transport:
    """Owns the one pooled AsyncClient; built in the app lifespan, closed at shutdown."""

    def __init__(self, *, kind: str = "aiohttp", pool_size: int = 512, connect_timeout_s: float = 10.0) -> None:
        timeout = httpx.Timeout(connect=connect_timeout_s, read=None, write=None, pool=None)
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        if kind == "aiohttp":
            transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits, trust_env=False)
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        self.kind = kind
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)

    async def open(self, request: UpstreamRequest, *, provider: str) -> UpstreamResponse:
        """Send the request and return once the response headers arrived."""
        built = self._client.build_request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        with provider_errors(provider):
            response = await self._client.send(built, stream=True)
        return UpstreamResponse(response, provider)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._client.aclose()

