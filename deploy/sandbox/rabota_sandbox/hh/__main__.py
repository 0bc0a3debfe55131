"""`python -m rabota_sandbox.hh`: serve the HeadHunter emulator on HH_SANDBOX_HOST:HH_SANDBOX_PORT."""

from __future__ import annotations

import uvicorn

from . import HHSandboxConfig, create_app


def main() -> None:
    config = HHSandboxConfig.from_env()
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info")


if __name__ == "__main__":
    main()
