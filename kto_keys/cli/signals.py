"""Running a coroutine so that Ctrl-C and SIGTERM stop it cleanly, with the work kept."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from kto_keys.core.errors import Terminated

T = TypeVar("T")


def run_async(job: Coroutine[Any, Any, T]) -> T:
    """Run `job`; Ctrl-C raises KeyboardInterrupt and SIGTERM raises Terminated, after cleanup."""
    terminated = False

    async def main() -> T:
        nonlocal terminated
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_term() -> None:
            nonlocal terminated
            terminated = True
            if task is not None:
                task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, on_term)
        return await job

    with asyncio.Runner() as runner:
        try:
            return runner.run(main())
        except asyncio.CancelledError:
            if terminated:
                raise Terminated() from None
            raise KeyboardInterrupt from None
