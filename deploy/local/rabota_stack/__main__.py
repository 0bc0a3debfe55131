"""`python -m rabota_stack`: the whole product on this machine, with the sandbox emulators by default.

SANDBOX=0 starts no emulators and leaves the HeadHunter and Bitrix24 URLs to the environment (DESIGN §6).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from rabota_stack.stack import Stack, StackConfig


def main() -> int:
    root = Path(os.environ.get("RABOTA_DATA_DIR", Path.cwd() / ".data"))
    config = StackConfig(
        data_dir=root,
        sandbox=os.environ.get("SANDBOX", "1") != "0",
        nats_port=int(os.environ.get("STACK_NATS_PORT", 14222)),
        redis_port=int(os.environ.get("STACK_REDIS_PORT", 16379)),
        ui_port=int(os.environ.get("UI_PORT", 8000)),
        nats_url=os.environ.get("NATS_URL"),
        redis_url=os.environ.get("REDIS_URL"),
    )
    stack = Stack(config)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print("Запуск rabota-sync…", flush=True)
    stack.start()
    print(f"\n  Приложение (ui):        {stack.public_url}", flush=True)
    if config.sandbox:
        print(f"  Портал Битрикс24 (песочница): {stack.b24_url}/   ← откройте в браузере", flush=True)
        print(f"  HeadHunter (песочница): {stack.hh_url}  (вход: admin@sandbox.by)", flush=True)
    ops = ", ".join(f"{name} {stack.metrics_url(name)}" for name in config.services)
    print(f"  /healthz, /readyz, /metrics: {ops}", flush=True)
    print(f"  Логи: {root / 'logs'}\n  Ctrl-C — остановить всё.\n", flush=True)
    try:
        while not stopping:
            dead = stack.group.dead()
            if dead:
                print(f"Процесс завершился: {', '.join(dead)}; смотрите логи в {root / 'logs'}", flush=True)
                break
            time.sleep(0.5)
    finally:
        print("Остановка…", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
