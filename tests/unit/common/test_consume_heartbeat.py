"""consume.heartbeat: the one heartbeat of every consumption shape."""

from __future__ import annotations

import asyncio

from rabota_common.consume import heartbeat


class Fake:
    def __init__(self, fail: bool = False) -> None:
        self.beats = 0
        self.fail = fail
        self.twice = asyncio.Event()

    async def in_progress(self) -> None:
        self.beats += 1
        if self.beats >= 2:
            self.twice.set()
        if self.fail:
            raise RuntimeError("settled meanwhile")


async def test_every_delivery_beats_a_failing_one_included_and_nothing_after() -> None:
    ok, gone = Fake(), Fake(fail=True)
    held = {ok, gone}
    async with heartbeat(held, 0.01):
        await asyncio.wait_for(asyncio.gather(ok.twice.wait(), gone.twice.wait()), 10.0)
        late = Fake()
        held.add(late)  # read anew at each beat
        await asyncio.wait_for(late.twice.wait(), 10.0)
    stopped = ok.beats
    witness = Fake()
    async with heartbeat([witness], 0.01):  # a few beats' time passes
        await asyncio.wait_for(witness.twice.wait(), 10.0)
    assert ok.beats == stopped
