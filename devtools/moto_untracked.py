"""moto's models, no longer kept alive after they are dropped.

Stock moto appends every model object it ever creates to a list on its class (`BaseModel.__new__`,
`instances_tracked`), for its dashboard (`/moto-api/data.json`) to show, and empties those lists only on a reset.
A DynamoDB `Item` is such a model, and moto makes new ones on every request: the item a put stores, the copy an
update works on, a copy of each item a query or a get answers with, the copies a transaction takes to roll back
with. An SQS `Message` is one too. None of them could ever be freed, so the server grew by the size of every item
it had handled: about 3.5 MiB/s under the soak's load (bench/soak/), 2.7 GB after a 12-minute soak, while the same
tables loaded into a fresh server took 100 MiB. Here models are created untracked, so they live as long as moto
holds them (a table's items, a queue's messages) and no longer. Nothing of ours reads the dashboard, which now
lists no objects; S3's reset, the other reader of the lists, disposes of every key its buckets still hold anyway.

SQS also remembers the receipt handle of every message ever deleted (so deleting one again succeeds, as on SQS):
185 characters a message, forever. Here each queue remembers the most recent `DELETED_HANDLES_KEPT` of them, far
more than a worker could still be holding.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from moto.core.common_models import BaseModel
from moto.sqs.models import Queue

DELETED_HANDLES_KEPT = 10_000

_stock_queue_init = Queue.__init__


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


class RecentHandles:
    """The set operations moto's queue makes on its deleted receipt handles, forgetting the oldest past a limit."""

    def __init__(self, limit: int = DELETED_HANDLES_KEPT):
        self.limit = limit
        self._handles: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, handle: object) -> bool:
        return handle in self._handles

    def __len__(self) -> int:
        return len(self._handles)

    def __iter__(self):
        return iter(self._handles)

    def add(self, handle: str) -> None:
        self._handles[handle] = None
        self._handles.move_to_end(handle)
        while len(self._handles) > self.limit:
            self._handles.popitem(last=False)

    def update(self, handles: Iterable[str]) -> None:
        for handle in handles:
            self.add(handle)

    def discard(self, handle: str) -> None:
        self._handles.pop(handle, None)

    def clear(self) -> None:
        self._handles.clear()


def _queue_init(self: Queue, *args, **kwargs) -> None:
    _stock_queue_init(self, *args, **kwargs)
    self.deleted_messages = RecentHandles()


def install() -> None:
    BaseModel.__new__ = staticmethod(_untracked_new)
    Queue.__init__ = _queue_init
