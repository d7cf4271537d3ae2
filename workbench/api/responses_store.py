"""Stored responses for the Responses API's `previous_response_id`, kept in memory.

Owns a bounded, least-recently-used map from a response id to what a follow-up needs: the
conversation so far (the turns sent, earlier stored turns included, and the answer; not the
`instructions`, which OpenAI does not carry over) and the response body (`GET
/v1/responses/{id}`). It lives in the API state of one process: a restart forgets every
response, and past `capacity` the least recently used ones go first. A request with
`store: false` is never kept. An unknown id is a 400 `previous_response_not_found` in
OpenAI's shape, as OpenAI answers it.
Why our own: a few lines over `collections.OrderedDict`; nothing is persisted on purpose (the
conversation may hold a writer's unpublished text, kept by the library only when they ask).
Does not know HTTP or the engine.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from engine.events import Message

from .errors import ApiError

DEFAULT_CAPACITY = 256


@dataclass(frozen=True)
class StoredResponse:
    messages: tuple[Message, ...]  # the whole conversation, the answer last
    body: dict


class ResponseStore:
    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = capacity
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, response_id: str, messages: list[Message], body: dict) -> None:
        with self._lock:
            self._items[response_id] = StoredResponse(tuple(messages), body)
            self._items.move_to_end(response_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, response_id: str, param: str = "previous_response_id") -> StoredResponse:
        with self._lock:
            stored = self._items.get(response_id)
            if stored is not None:
                self._items.move_to_end(response_id)
        if stored is None:
            raise ApiError(400 if param == "previous_response_id" else 404, "no_response",
                           f"response {response_id!r} is not stored here (responses live in "
                           "this server's memory only: a restart or a sent `store: false` "
                           "forgets them, and only the most recent "
                           f"{self.capacity} are kept)", param=param)
        return stored

    def __len__(self) -> int:
        return len(self._items)
