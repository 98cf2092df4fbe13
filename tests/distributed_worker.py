"""Run by tests/test_distributed.py, in one process or under torchrun (on the CPU, gloo).

    python tests/distributed_worker.py OUT            # one process
    torchrun --nproc_per_node 2 tests/distributed_worker.py OUT

Trains a small plain autoencoder with ``fit`` on uint8 images three times: 3 epochs
straight, and 2 epochs then resumed to 3 from the checkpoint; rank 0 saves the weights of
both to OUT/straight.pt and OUT/resumed.pt, and the histories to OUT/histories.json.
41 images in batches of 10 leave a last batch of 1, so with 2 processes one process has
no row of it: the case the shard weights must get right.
"""

import json
import sys
from pathlib import Path

import torch

from vaelab import distributed, models, train

NUM_IMAGES, BATCH_SIZE = 41, 10


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
    distributed.teardown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
