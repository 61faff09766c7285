"""The channel between a run on Ray and its caller, exercised directly (no cluster needed):
a message stays until the caller acknowledges it, so an answer the caller never read
(Ctrl-C landed while it waited) is delivered again."""

from __future__ import annotations

import asyncio

from synapse_sdk.ray.launch import _Channel


def test_messages_stay_until_acknowledged_and_waiters_are_released_by_the_ack() -> None:
    async def scenario() -> None:
        channel = _Channel()
        await channel.push(1, "progress")
        waiter = asyncio.create_task(channel.push_and_wait(2, "record"))
        await asyncio.sleep(0)
        first = await channel.pull(0, 0.01)
        assert first == [(1, "progress"), (2, "record")]
        # The caller was interrupted before it applied them: nothing is lost.
        assert await channel.pull(0, 0.01) == first
        assert not waiter.done()
        assert await channel.pull(1, 0.01) == [(2, "record")]
        assert not waiter.done()  # the record is acknowledged only once applied
        assert await channel.pull(2, 0.01) == []
        await asyncio.wait_for(waiter, 1)

    asyncio.run(scenario())


def test_a_pull_waits_for_the_next_message() -> None:
    async def scenario() -> None:
        channel = _Channel()

        async def later() -> None:
            await asyncio.sleep(0.05)
            await channel.push(1, "late")

        pusher = asyncio.create_task(later())
        assert await channel.pull(0, 5) == [(1, "late")]
        await pusher

    asyncio.run(scenario())
