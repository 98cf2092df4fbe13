"""Run by tests/test_distributed.py, in one process or under torchrun (on the CPU, gloo).

    python tests/distributed_worker.py OUT            # one process
    torchrun --nproc_per_node 2 tests/distributed_worker.py OUT

Trains a small plain autoencoder with ``fit`` on uint8 images twice: 3 epochs straight,
and 2 epochs then resumed to 3 from the checkpoint; rank 0 saves the weights of both to
OUT/straight.pt and OUT/resumed.pt, and the histories to OUT/histories.json. 37 images in
batches of 9: with 2 processes a batch of 9 is split 5 + 4 (the shard weights must make
that the whole batch's mean, not the mean of two means), and the last batch holds one
image, so one process has none of it. In several processes it then trains once more with a
loss that turns NaN in process 1 alone: every process must stop with TrainingDiverged
(none may wait forever for the others); each writes the message to OUT/diverged-RANK.txt.
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from vaelab import distributed, models, train

NUM_IMAGES, BATCH_SIZE = 37, 9


def autoencoder() -> models.MLPAutoencoder:
    torch.manual_seed(0)
    return models.MLPAutoencoder(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)


def main(out: Path) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (NUM_IMAGES, 1, 8, 8), generator=g, dtype=torch.uint8)
    options = dict(batch_size=BATCH_SIZE, seed=0, device="cpu", progress=False, log=False)

    straight = autoencoder()
    history = train.fit(straight, x, num_epochs=3, **options)

    resumed = autoencoder()
    train.fit(resumed, x, num_epochs=2, checkpoint=out / "two.pt", **options)
    resumed_history = train.fit(
        resumed, x, num_epochs=3, resume=out / "two.pt", checkpoint=out / "three.pt", **options
    )
    if distributed.is_main():
        torch.save(straight.state_dict(), out / "straight.pt")
        torch.save(resumed.state_dict(), out / "resumed.pt")
        histories = {"straight": history.to_dict(), "resumed": resumed_history.to_dict()}
        (out / "histories.json").write_text(json.dumps(histories))
    if distributed.world_size() > 1:
        diverge_in_one_process(x, out, options)
    distributed.teardown()


def diverge_in_one_process(x: torch.Tensor, out: Path, options: dict) -> None:
    calls = []

    def loss_fn(x_logits, x, beta):  # per-image BCE; NaN in process 1 at its 4th step
        loss = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum((1, 2, 3))
        calls.append(1)
        return loss * float("nan") if distributed.rank() == 1 and len(calls) == 4 else loss

    try:
        train.fit(autoencoder(), x, num_epochs=2, loss_fn=loss_fn, **options)
    except train.TrainingDiverged as err:
        (out / f"diverged-{distributed.rank()}.txt").write_text(str(err))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
