"""logbook.Landing: the event loop's side of the log's futures."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from decision_service.api.logbook import Landing, landing


def test_a_group_finished_in_another_thread_lands_with_one_wake_up() -> None:
    async def main() -> tuple[list[Any], int]:
        here = landing()
        drains = 0
        drain = here._drain

        def counted() -> None:
            nonlocal drains
            drains += 1
            drain()

        here._drain = counted  # type: ignore[method-assign]
        futures: list[Future[Any]] = [Future() for _ in range(50)]
        waiters = [here.wait(f) for f in futures]

        def writer() -> None:  # a commit group: every future of it set in a row
            for index, future in enumerate(futures):
                if index == 7:
                    future.set_exception(ValueError("bad record"))
                else:
                    future.set_result(index)

        thread = threading.Thread(target=writer)
        thread.start()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        thread.join()
        return results, drains

    results, drains = asyncio.run(main())
    assert isinstance(results[7], ValueError)
    assert [r for i, r in enumerate(results) if i != 7] == [i for i in range(50) if i != 7]
    assert drains < 50  # not one per future (usually one for the whole group)


def test_a_cancelled_waiter_is_skipped_and_its_write_left_alone() -> None:
    async def main() -> tuple[bool, Any]:
        here = Landing(asyncio.get_running_loop())
        first: Future[Any] = Future()
        second: Future[Any] = Future()
        gone, kept = here.wait(first), here.wait(second)
        gone.cancel()
        first.set_result("logged anyway")  # the writer may still set it: no error
        second.set_result("answered")
        return first.cancelled(), await kept

    cancelled, answer = asyncio.run(main())
    assert not cancelled and answer == "answered"


def test_a_future_done_already_lands_on_the_loop() -> None:
    async def main() -> Any:
        done: Future[Any] = Future()
        done.set_result(42)
        return await landing().wait(done)

    assert asyncio.run(main()) == 42


def test_each_loop_has_its_own_landing() -> None:
    async def main() -> tuple[Landing, Landing]:
        return landing(), landing()

    first, again = asyncio.run(main())
    other, _ = asyncio.run(main())
    assert first is again and other is not first
