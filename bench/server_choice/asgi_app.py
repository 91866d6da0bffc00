"""A raw ASGI 3 callable (no framework), shared by the uvicorn and granian candidates."""

from __future__ import annotations

from feed import select

# Called on ASGI lifespan shutdown (servers that run lifespan: uvicorn here).
ON_SHUTDOWN: list = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                for hook in ON_SHUTDOWN:
                    hook()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    inm = ae = ims = None
    for name, value in scope["headers"]:  # ASGI: lower-case bytes names
        if name == b"if-none-match":
            inm = value
        elif name == b"accept-encoding":
            ae = value
        elif name == b"if-modified-since":
            ims = value
    resp = select(scope["method"], scope["path"], inm, ae, ims)
    await send({"type": "http.response.start", "status": resp.status, "headers": resp.headers_b})
    await send({"type": "http.response.body", "body": resp.body})
