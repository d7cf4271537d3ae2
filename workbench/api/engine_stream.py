"""The adapter between async HTTP handlers and the engine's blocking event stream.

Owns one admitted generation (service.py has already checked that it fits): it takes a place
in the AdmissionQueue, waits for a worker slot, then runs `Backend.stream` in a worker thread
and hands its events to the event loop. `close()` sets the engine's cancel Event -- called when
the client disconnects -- and the slot is given back only when the worker thread has ended.
Does not know either wire protocol: routes translate the events (openai_routes.py,
anthropic_routes.py). Also offers `until_disconnected` so a non-streaming handler notices a
client that hung up.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, TypeVar

from starlette.requests import ClientDisconnect, Request

from engine.backends.protocol import Backend
from engine.events import Done, Event, GenerationParams, Message

from .queue import AdmissionQueue, Ticket

T = TypeVar("T")
_END = object()
CANCEL_GRACE_EVENTS = 4


class Generation:
    """One request's run through the engine, iterated as `async for event in generation`."""

    def __init__(self, backend: Backend, messages: list[Message], params: GenerationParams,
                 ticket: Ticket, executor: ThreadPoolExecutor):
        self.backend, self.messages, self.params = backend, messages, params
        self.cancel = threading.Event()
        self._ticket, self._executor = ticket, executor
        self._events: asyncio.Queue = asyncio.Queue()
        self._thread_started = False
        self._finished = False

    async def start(self) -> None:
        await self._ticket.wait_turn()
        loop = asyncio.get_running_loop()
        if self.cancel.is_set():
            self._ticket.release()
            raise ClientDisconnect()
        future = loop.run_in_executor(self._executor, self._pump, loop)
        self._thread_started = True
        future.add_done_callback(lambda _f: self._ticket.release())

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: drain the engine's iterator; stop it if it ignores a cancel."""
        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(self._events.put_nowait, item)
            except RuntimeError:  # the loop is gone (server shutting down)
                self.cancel.set()

        stream = None
        try:
            stream = self.backend.stream(self.messages, self.params, self.cancel)
            grace = CANCEL_GRACE_EVENTS  # a backend winds down itself (Done "cancelled")
            for event in stream:
                put(event)
                if self.cancel.is_set():
                    grace -= 1
                    if grace < 0:
                        break  # it ignores the Event: close the generator instead
        except BaseException as exc:  # handed to the loop, raised in the handler
            put(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            put(_END)

    def __aiter__(self) -> "Generation":
        return self

    async def __anext__(self) -> Event:
        if self._finished:
            raise StopAsyncIteration
        item = await self._events.get()
        if item is _END:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if isinstance(item, Done):
            self._finished = True
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Cancel the engine run (if any) and give up the place in line (if still waiting)."""
        self.cancel.set()
        if not self._thread_started:
            self._ticket.release()


class GenerationRunner:
    """Per-app: the admission queue and the worker threads the engine runs in."""

    def __init__(self, queue_size: int, workers: int = 1):
        self.queue = AdmissionQueue(queue_size, workers)
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix="longhand-api")

    def admit(self, backend: Backend, messages: list[Message],
              params: GenerationParams) -> Generation:
        """Raises ApiError 429 at once when the line is full."""
        return Generation(backend, messages, params, self.queue.admit(), self._executor)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def until_disconnected(request: Request) -> None:
    """Returns when the client hangs up (or the response is complete)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, but cancel it and raise ClientDisconnect if the client hangs up first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(until_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise ClientDisconnect()
