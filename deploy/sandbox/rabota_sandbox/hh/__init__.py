"""HeadHunter (rabota.by) employer API emulator. See deploy/sandbox/README.md."""

from .app import create_app
from .config import HHSandboxConfig

__all__ = ["HHSandboxConfig", "create_app"]
