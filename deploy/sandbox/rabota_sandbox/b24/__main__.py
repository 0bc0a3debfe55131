"""`python -m rabota_sandbox.b24`: the Bitrix24 emulator on B24_SANDBOX_HOST:B24_SANDBOX_PORT."""

from __future__ import annotations

import uvicorn

from . import create_app
from .config import B24SandboxConfig


def main() -> None:
    cfg = B24SandboxConfig.from_env()
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, log_level="info")


if __name__ == "__main__":
    main()
