"""The shared upstream HTTP client, and the one place where client errors become ProviderError.

Three interchangeable clients, chosen by `server.transport` and measured in docs/benchmarks.md: `aiohttp`
(aiohttp's ClientSession used directly: the default, the cheapest per request), `httpx-aiohttp` (the httpx API
on aiohttp's transport) and `httpx` (httpx's own transport, slow under concurrency: encode/httpx#3215).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from gateway.errors import ProviderTimeout, ProviderUnavailable
from gateway.providers.base import UpstreamRequest


@contextlib.contextmanager
def provider_errors(provider: str) -> Iterator[None]:
    """Translate client exceptions into ProviderError subclasses naming the provider (never the URL)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, asyncio.TimeoutError):
            # httpx-aiohttp maps every aiohttp connection error to ConnectTimeout; a refused connection is not one
            raise ProviderUnavailable(f"{provider} is unreachable", provider=provider) from exc
        raise ProviderTimeout(f"{provider} did not answer in time", provider=provider) from exc
    except (httpx.ConnectError, httpx.UnsupportedProtocol, aiohttp.ClientConnectorError,
            aiohttp.InvalidURL) as exc:
        raise ProviderUnavailable(f"{provider} is unreachable", provider=provider) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise ProviderTimeout(f"{provider} did not answer in time", provider=provider) from exc
    except (httpx.HTTPError, aiohttp.ClientError, ConnectionError, OSError) as exc:
        raise ProviderUnavailable(f"{provider} connection failed: {type(exc).__name__}", provider=provider) from exc


def _drain_buffer(content: Any) -> bytes:
    """What an aiohttp StreamReader still buffers after its payload failed: it raises the stored error before
    returning buffered data, so the last bytes of a cut stream would otherwise be lost (pinned aiohttp 3.14)."""
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)
    buffer.clear()
    return data


class UpstreamResponse(Protocol):
    """An upstream answer whose body may still be streaming; always close it."""

    @property
    def status(self) -> int:
        """HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (case-insensitive)."""
        ...

    async def read(self) -> bytes:
        """Read the whole body."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive; bytes that arrived together with a cut connection come before the error."""
        ...

    async def close(self) -> None:
        """Release the connection; an unfinished body closes it, which aborts the upstream request."""
        ...


class AiohttpResponse:
    """An aiohttp ClientResponse behind the UpstreamResponse interface."""

    __slots__ = ("_provider", "_response")

    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self._response = response
        self._provider = provider

    @property
    def status(self) -> int:
        """HTTP status."""
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (case-insensitive)."""
        return self._response.headers

    async def read(self) -> bytes:
        """Read the whole body."""
        with provider_errors(self._provider):
            return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (no buffering beyond the socket read)."""
        content = self._response.content
        with provider_errors(self._provider):
            try:
                async for chunk in content.iter_any():
                    yield chunk
            except aiohttp.ClientError:
                leftover = _drain_buffer(content)
                if leftover:
                    yield leftover
                raise

    async def close(self) -> None:
        """A fully read body returns the connection to the pool; an unfinished one closes it."""
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class HttpxResponse:
    """An httpx streaming Response behind the UpstreamResponse interface."""

    __slots__ = ("_provider", "_response")

    def __init__(self, response: httpx.Response, provider: str) -> None:
        self._response = response
        self._provider = provider

    @property
    def status(self) -> int:
        """HTTP status."""
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (case-insensitive)."""
        return self._response.headers

    async def read(self) -> bytes:
        """Read the whole body."""
        with provider_errors(self._provider):
            return await self._response.aread()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive."""
        with provider_errors(self._provider):
            try:
                async for chunk in self._response.aiter_raw():
                    yield chunk
            except httpx.HTTPError:
                stream = getattr(self._response.stream, "_stream", self._response.stream)
                leftover = _drain_buffer(getattr(getattr(stream, "_aiohttp_response", None), "content", None))
                if leftover:
                    yield leftover
                raise

    async def close(self) -> None:
        """Release the connection."""
        with contextlib.suppress(Exception):
            await self._response.aclose()


class Transport:
    """Owns the one pooled client; built in the app lifespan (inside the running loop), closed at shutdown."""

    def __init__(self, *, kind: str = "aiohttp", pool_size: int = 512, connect_timeout_s: float = 10.0) -> None:
        self.kind = kind
        self._session: aiohttp.ClientSession | None = None
        self._client: httpx.AsyncClient | None = None
        if kind == "aiohttp":
            connector = aiohttp.TCPConnector(limit=pool_size, limit_per_host=pool_size, ttl_dns_cache=60)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)
            return
        timeout = httpx.Timeout(connect=connect_timeout_s, read=None, write=None, pool=None)
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        if kind == "httpx-aiohttp":
            transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits, trust_env=False)
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)

    async def open(self, request: UpstreamRequest, *, provider: str) -> UpstreamResponse:
        """Send the request and return once the response headers arrived."""
        if self._session is not None:
            with provider_errors(provider):
                response = await self._session.request(
                    request.method, request.url, data=request.content, headers=request.headers,
                    allow_redirects=False,
                )
            return AiohttpResponse(response, provider)
        assert self._client is not None
        built = self._client.build_request(
            request.method, request.url, headers=request.headers, content=request.content
        )
        with provider_errors(provider):
            streamed = await self._client.send(built, stream=True)
        return HttpxResponse(streamed, provider)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
        if self._client is not None:
            await self._client.aclose()
