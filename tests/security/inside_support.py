"""A real nats-server with the generated users and permissions (rabota_common.nats_auth), for the inside tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from rabota_common import nats_auth
from rabota_common.bus import nats_options
from rabota_common.settings import Settings
from rabota_stack.processes import ProcessGroup, free_port, nats_server_binary, wait_port

# Production settings (SANDBOX=0) need a strong key (the secrets work refuses the sandbox one): one per test run.
APP_SECRET_KEY = secrets.token_urlsafe(48)


@dataclass
class SecureNats:
    url: str
    passwords: dict[str, str]

    def settings(self, user: str, **kw: Any) -> Settings:
        return Settings(**{"APP_SECRET_KEY": APP_SECRET_KEY, "NATS_URL": self.url, "NATS_USER": user,
                           "NATS_PASSWORD": self.passwords[user], "METRICS_PORT": 0, **kw})

    async def connect(self, user: str, errors: list[str] | None = None) -> nats.NATS:
        """A plain NATS client as `user`, its inboxes under the user's prefix; -ERR reasons go to `errors`."""
        async def on_error(exc: Exception) -> None:
            if errors is not None:
                errors.append(str(exc))

        return await nats.connect(self.url, error_cb=on_error, allow_reconnect=False,
                                  **nats_options(self.settings(user)))


def start_secure_nats(work: Path) -> Iterator[SecureNats]:
    group = ProcessGroup(work / "logs")
    passwords = {user: "p" + secrets.token_hex(16) for user in nats_auth.USERS}
    (work / "nats").mkdir(parents=True, exist_ok=True)
    conf = work / "nats" / "auth.conf"
    conf.write_text(nats_auth.render_authorization())
    port = free_port()
    proc = group.start("nats", [nats_server_binary(), "-js", "-sd", str(work / "nats"), "-a", "127.0.0.1",
                                "-p", str(port), "-c", str(conf)],
                       {nats_auth.password_env(user): pw for user, pw in passwords.items()})
    wait_port(port, proc=proc)
    try:
        yield SecureNats(f"nats://127.0.0.1:{port}", passwords)
    finally:
        group.stop_all()
