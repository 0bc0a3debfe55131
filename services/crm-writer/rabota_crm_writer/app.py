"""Wiring of the crm-writer: its runtime and its one loop, the pull engine (`pull.py`), which hands each
portal's commands to the write of one group (`writer.py`)."""

from __future__ import annotations

from faststream import FastStream
from rabota_common.runtime import Runtime, build_runtime, service_app
from rabota_common.settings import Settings

from rabota_crm_writer.pull import pull_loop


def build(settings: Settings) -> tuple[FastStream, Runtime]:
    rt = build_runtime("crm-writer", settings)
    return service_app(rt, loops=[lambda stop: pull_loop(rt, stop)]), rt
