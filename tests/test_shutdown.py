"""Stopping cleanly: the store closes under queries still running, and a test run that dies
leaves no server behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Many statements in worker threads, half of their tasks cancelled (their threads run on), then
# close(): each call must end in its result, its cancellation or StoreClosed, never a crash, and
# every write that returned must be in the file afterwards.
CLOSE_UNDER_LOAD = """
import asyncio, sys
from thingapp.store import StoreClosed, open_store

async def once(url, round_):
    store = open_store(url)
    writes = {f"r{round_}k{j}": asyncio.create_task(store.cache_set(f"r{round_}k{j}", "v", 600))
              for j in range(30)}
    others = [asyncio.create_task(store.sweep()) for _ in range(5)]
    others += [asyncio.create_task(store.list_webhooks()) for _ in range(10)]
    await asyncio.sleep(0.001 * (round_ % 5))
    for task in [*writes.values(), *others][::2]:
        task.cancel()
    await store.close()
    outcomes = await asyncio.gather(*writes.values(), *others, return_exceptions=True)
    for outcome in outcomes:
        assert outcome is None or isinstance(outcome, (list, asyncio.CancelledError,
                                                       StoreClosed)), repr(outcome)
    return [key for key, task in writes.items() if not task.cancelled()
            and task.exception() is None]

async def main(url, rounds):
    written = []
    for round_ in range(rounds):
        written += await once(url, round_)
    store = open_store(url)
    try:
        lost = [key for key in written if await store.cache_get(key) != "v"]
    finally:
        await store.close()
    assert not lost, f"{len(lost)} acknowledged writes lost"
    print("closed", rounds, "times;", len(written), "writes kept")

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_closing_the_store_waits_for_statements_running_in_threads(tmp_path):
    # Before the fix this died with SIGSEGV in a few rounds; in a child process so a crash is
    # a failure with its output, not the end of the test run.
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    result = subprocess.run([sys.executable, "-c", CLOSE_UNDER_LOAD, url, "150"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    assert "closed 150 times" in result.stdout


def test_a_call_after_close_is_refused_with_store_closed(tmp_path):
    import asyncio

    import pytest

    from thingapp.store import StoreClosed, open_store

    async def body() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        await store.close()
        for call in (store.get_session("S1"), store.cache_set("k", "v", 60), store.ping(),
                     store.list_webhooks()):
            with pytest.raises(StoreClosed):
                await call
        await store.close()  # again: nothing left to do
    asyncio.run(body())


def test_a_store_in_a_nameless_temporary_file_reads_what_it_wrote():
    import asyncio

    from thingapp.store import open_store

    async def body() -> str | None:
        store = open_store("sqlite:///")  # SQLite's private temporary database
        try:
            await store.cache_set("k", "v", 60)
            return await store.cache_get("k")
        finally:
            await store.close()
    assert asyncio.run(body()) == "v"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's reaping is left


def test_a_killed_test_run_leaves_no_server_behind(tmp_path):
    pids_file = tmp_path / "pids"
    probe = tmp_path / "test_probe.py"
    # A run of its own, with the project's fixtures: it starts the demo and a redis-server,
    # says their process ids, then waits to be killed.
    probe.write_text(textwrap.dedent(f"""
        import time
        from pathlib import Path

        def test_wait_to_be_killed(demo, redis_server):
            port = redis_server.rsplit(":", 1)[1].split("/")[0]
            redis_pid = next(p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                             and b"redis-server" in (p / "cmdline").read_bytes()
                             and port.encode() in (p / "cmdline").read_bytes())
            Path({str(pids_file)!r}).write_text(f"{{demo.process.pid}} {{redis_pid}}")
            time.sleep(120)
    """))
    log = tmp_path / "probe.log"
    with open(log, "wb") as output:
        run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "conftest",
                                "--rootdir", str(tmp_path), "-c", os.devnull, str(probe)],
                               cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(TESTS)},
                               stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (pids_file.exists() and pids_file.read_text()):
            assert run.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the probe run did not start its servers"
            time.sleep(0.1)
        pids = [int(pid) for pid in pids_file.read_text().split()]
        assert all(_alive(pid) for pid in pids)
        run.send_signal(signal.SIGKILL)  # as a crash or CI's timeout would end it
        run.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in pids if _alive(pid)], "servers outlived the killed run"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
