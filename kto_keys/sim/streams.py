"""Answers delivered badly on purpose: a body fed a byte at a time, and one padded to a huge size."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from aiohttp import web

from kto_keys.sim import responses as r

CHUNK_BYTES = 64 * 1024


def padded_chunks(body: bytes, size: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield `body` then spaces up to `size` bytes in all, at most `chunk_bytes` at a time."""
    # Trailing whitespace keeps a JSON or XML answer valid: only a reader's size limit stops it.
    for start in range(0, len(body), chunk_bytes):
        yield body[start : start + chunk_bytes]
    blank = b" " * chunk_bytes
    left = size - len(body)
    while left > 0:
        step = min(left, chunk_bytes)
        yield blank if step == chunk_bytes else blank[:step]
        left -= step


def single_bytes(body: bytes) -> Iterator[bytes]:
    """Yield `body` one byte at a time."""
    for start in range(len(body)):
        yield body[start : start + 1]


async def send_chunks(
    request: web.Request,
    reply: r.Reply,
    chunks: Iterable[bytes],
    *,
    interval_s: float = 0.0,
    content_length: int | None = None,
) -> web.StreamResponse:
    """Send the reply's status and headers now, then each chunk after `interval_s` seconds."""
    response = web.StreamResponse(
        status=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
    )
    if content_length is not None:
        response.content_length = content_length
    await response.prepare(request)
    try:
        for chunk in chunks:
            if interval_s > 0:
                await asyncio.sleep(interval_s)
            await response.write(chunk)
        await response.write_eof()
    except ConnectionError:  # the client stopped reading and left; nothing more to send
        pass
    return response


async def drip(request: web.Request, reply: r.Reply, interval_s: float) -> web.StreamResponse:
    """Send the answer one byte per `interval_s`, its full length declared up front."""
    return await send_chunks(
        request,
        reply,
        single_bytes(reply.body),
        interval_s=interval_s,
        content_length=len(reply.body),
    )


async def huge(request: web.Request, reply: r.Reply, size: int) -> web.StreamResponse:
    """Send the answer padded to `size` bytes, chunked with no declared length, never all held."""
    return await send_chunks(request, reply, padded_chunks(reply.body, size))
