"""`python -m rabota_sandbox`: both emulators in one process (HeadHunter on HH_SANDBOX_PORT, default
8010; Bitrix24 on B24_SANDBOX_PORT, default 8020). Ctrl-C / SIGTERM stops both."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import uvicorn
import uvloop

log = logging.getLogger("rabota_sandbox")


def _access_log() -> bool:
    """One log line per request unless SANDBOX_ACCESS_LOG=0 (the capacity bench: thousands of requests a
    second, whose formatting would be counted as load of the machine under test)."""
    return os.environ.get("SANDBOX_ACCESS_LOG", "1") != "0"


def _hh_server() -> uvicorn.Server | None:
    try:
        from rabota_sandbox.hh import create_app as create_hh
    except ImportError as exc:  # the HeadHunter emulator is built separately
        log.warning("HeadHunter emulator not available: %s", exc)
        return None
    host = os.environ.get("HH_SANDBOX_HOST", "127.0.0.1")
    port = int(os.environ.get("HH_SANDBOX_PORT", "8010"))
    return uvicorn.Server(uvicorn.Config(create_hh(), host=host, port=port, log_level="info",
                                         access_log=_access_log()))


def _b24_server() -> uvicorn.Server:
    from rabota_sandbox.b24 import B24SandboxConfig, create_app

    cfg = B24SandboxConfig.from_env()
    return uvicorn.Server(uvicorn.Config(create_app(cfg), host=cfg.host, port=cfg.port, log_level="info",
                                         access_log=_access_log()))


async def _serve() -> None:
    servers = [s for s in (_hh_server(), _b24_server()) if s is not None]
    # uvicorn installs its own SIGINT/SIGTERM handlers per server; each one sets its should_exit, and a
    # signal reaching the process stops every server because the handlers are process-wide.
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        uvloop.run(_serve())  # as the services run: less CPU per request than asyncio's own loop
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
