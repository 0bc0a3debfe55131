"""Issue 15: the processes a test run starts (nats-server, redis-server, emulators, services) never outlive it,
even when it is killed outright and no fixture teardown runs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from tests.e2e.harness import until

# A stand-in test run: nats-server started as the fixtures start it, and a process started from a thread that
# has ended since (as stack.restart_service runs under asyncio.to_thread); then it waits to be killed.
RUN = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from rabota_stack.processes import ProcessGroup, free_port, nats_server_binary, wait_port

    group = ProcessGroup(Path(sys.argv[1]))
    port = free_port()
    nats = group.start("nats", [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port)])
    wait_port(port, proc=nats)
    thread = threading.Thread(target=group.start, args=("sleeper", [sys.executable, "-c",
                                                                     "import time; time.sleep(600)"]))
    thread.start()
    thread.join()
    print(nats.pid, group.get("sleeper").popen.pid, flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by init) is gone too.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


async def test_processes_die_with_a_killed_test_run(tmp_path: Path) -> None:
    run = await asyncio.create_subprocess_exec(sys.executable, "-c", RUN, str(tmp_path / "logs"),
                                               stdout=asyncio.subprocess.PIPE)
    try:
        assert run.stdout is not None
        line = await asyncio.wait_for(run.stdout.readline(), 60)
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2, line
        assert all(_alive(pid) for pid in pids), "a process died with the thread that started it"
        run.send_signal(signal.SIGKILL)
        await asyncio.wait_for(run.wait(), 10)

        async def all_gone() -> bool:
            return not any(_alive(pid) for pid in pids)

        await until("the test run's processes to die with it", 10, all_gone)
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()
