"""Training in several processes: the plumbing ``fit`` uses when started by ``torchrun``.

``torchrun --nproc_per_node N script.py`` starts N copies of a script and tells each one
its place through environment variables: ``RANK`` (0 .. WORLD_SIZE - 1, over all machines),
``LOCAL_RANK`` (0 .. N - 1, on this machine) and ``WORLD_SIZE``. Every process holds the
whole dataset and the same model; each takes its share of every batch, and
DistributedDataParallel averages the gradients so that all copies take the same step.
Without torchrun every function here is a no-op for one process (rank 0 of 1).
"""

import contextlib
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "Shard",
    "ShardWeight",
    "all_gather_objects",
    "any_across",
    "broadcast_flag",
    "broadcast_object",
    "is_main",
    "launched",
    "local_main_first",
    "process_device",
    "rank",
    "setup",
    "shard",
    "sum_across",
    "teardown",
    "wait_for_all",
    "world_size",
    "wrap",
]


class Shard(NamedTuple):
    """This process's rows of a global batch, and how its loss is weighted."""

    x: torch.Tensor  # (b, C, H, W): about B / world_size rows of the global batch
    size: int  # rows that count (0 when the global batch has fewer rows than processes)
    weight: float  # size * world_size / B: makes the averaged gradient the global batch's


def launched() -> bool:
    """Whether this process is one of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    """This process's number among all processes (0 in one process)."""
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """How many processes train together (1 without torchrun)."""
    return (
        dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))
    )


def is_main() -> bool:
    """True in the one process that prints, evaluates and writes files (rank 0)."""
    return rank() == 0


def process_device(device: str | torch.device) -> torch.device:
    """This process's device: under torchrun, "cuda" means GPU number LOCAL_RANK.

    Args:
        device: the device asked for, e.g. "cuda", "cuda:3" (kept as it is) or "cpu".
    """
    device = torch.device(device)
    if launched() and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def setup(device: str | torch.device) -> torch.device:
    """Join torchrun's process group, NCCL for CUDA devices and gloo otherwise.

    Does nothing in one process or when the group already exists.

    Args:
        device: the device asked for; see ``process_device``.

    Returns:
        This process's device.
    """
    device = process_device(device)
    if launched() and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return device


def teardown() -> None:
    """Leave the process group (at the end of a script started by torchrun)."""
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def local_main_first() -> Iterator[None]:
    """Run the block in the first process of each machine first, then in the others.

    For work whose result the others can reuse, such as building a data cache.
    """
    if not dist.is_initialized():
        yield
        return
    first = int(os.environ.get("LOCAL_RANK", "0")) == 0
    if not first:
        dist.barrier()
    try:
        yield
    finally:
        if first:
            dist.barrier()


class ShardWeight:
    """The weight of this process's current shard (``Shard.weight``), which ``wrap``'s
    gradient averaging applies; set it before each backward."""

    def __init__(self) -> None:
        self.value = 1.0


# No `from __future__ import annotations` in this module: DDP inspects the hook's annotations.
def _weighted_average(
    weight: ShardWeight, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    """DDP communication hook: the mean over processes of weight x gradient."""
    grads = bucket.buffer()
    grads.mul_(weight.value / dist.get_world_size())
    future = dist.all_reduce(grads, op=dist.ReduceOp.SUM, async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


def wrap(model: nn.Module, device: torch.device, weight: ShardWeight) -> nn.Module:
    """The model in DistributedDataParallel, or the model itself in one process.

    DDP copies rank 0's weights to every process, then after each backward replaces every
    gradient by the mean over processes of ``weight.value`` x gradient, so all copies take
    the same step.
    """
    if not dist.is_initialized():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    ddp.register_comm_hook(weight, _weighted_average)
    return ddp


def shard(xb: torch.Tensor) -> Shard:
    """This process's rows of a global batch: ``xb.tensor_split(world_size)[rank]``.

    Each process's loss is the mean over its rows; with gradients weighted by
    ``size * world_size / B`` (see ``wrap``), their mean over processes is the gradient
    of the global batch's mean loss, also when B does not divide evenly. A process left
    without rows trains on one duplicated row with weight 0.

    Args:
        xb: (B, ...) the same global batch in every process.
    """
    world = world_size()
    if world == 1:
        return Shard(xb, len(xb), 1.0)
    rows = xb.tensor_split(world)[rank()]
    if len(rows) == 0:
        return Shard(xb[:1], 0, 0.0)
    return Shard(rows, len(rows), len(rows) * world / len(xb))


def sum_across(x: torch.Tensor) -> torch.Tensor:
    """x summed over all processes (in place; x itself in one process)."""
    if dist.is_initialized():
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def any_across(flag: torch.Tensor) -> torch.Tensor:
    """A 0/1 flag set to 1 in every process if it is 1 in any (in place, on the device)."""
    if dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag


def broadcast_object(obj: Any) -> Any:
    """Rank 0's obj (any picklable value), in every process."""
    if not dist.is_initialized():
        return obj
    objects = [obj]
    dist.broadcast_object_list(objects, src=0)
    return objects[0]


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's value of flag, in every process (e.g. a callback asking to stop)."""
    return bool(broadcast_object(flag))


def wait_for_all() -> None:
    """Wait until every process gets here (e.g. until rank 0 has written its files)."""
    if dist.is_initialized():
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's obj, in rank order (a list of one in one process)."""
    if not dist.is_initialized():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered
