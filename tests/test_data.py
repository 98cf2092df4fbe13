"""vaelab.data: the IDX parser on files written here, the bundled sample, splits and batches."""

import gzip
import hashlib
import struct
import time

import pytest
import torch

from vaelab import data, default_device, fast_mode


def write_idx(path, array: torch.Tensor, code: int = 0x08, compress: bool = False) -> None:
    header = bytes([0, 0, code, array.dim()]) + struct.pack(f">{array.dim()}I", *array.shape)
    payload = header + array.numpy().astype(">u1" if code == 0x08 else ">i4").tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


@pytest.fixture
def fake_mnist(tmp_path):
    """A tiny MNIST in torchvision's layout: root/MNIST/raw/*-ubyte (train: 60, test: 20)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(1)
    splits = {}
    for prefix, n in (("train", 60), ("t10k", 20)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.arange(n, dtype=torch.uint8) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels, compress=True)
        splits[prefix] = (images, labels)
    return tmp_path, splits


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_uint8_and_int32(tmp_path, compress):
    u8 = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8)
    write_idx(tmp_path / "a", u8, compress=compress)
    assert torch.equal(data.read_idx(tmp_path / "a"), u8)
    i32 = torch.tensor([[-5, 70000], [3, 0]], dtype=torch.int32)
    write_idx(tmp_path / "b", i32, code=0x0C, compress=compress)
    assert torch.equal(data.read_idx(tmp_path / "b"), i32)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    write_idx(tmp_path / "ok", torch.zeros(4, 28, 28, dtype=torch.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "ok").read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "png")


def test_full_mnist_on_disk_is_parsed_and_scaled(fake_mnist):
    root, splits = fake_mnist
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = data.load_mnist(split, root=root, download=False)
        images, labels = splits[prefix]
        assert x.shape == (len(labels), 1, 28, 28) and x.dtype == torch.float32
        assert y.dtype == torch.int64
        assert torch.equal(y, labels.long())
        assert torch.allclose(x[:, 0] * 255, images.float())
    assert "full MNIST" in data.source()


def test_load_returns_fresh_tensors(fake_mnist):
    root, _ = fake_mnist
    x1, _ = data.load_mnist("train", root=root, download=False)
    x1.mul_(0)  # a learner modifying the result in place must not poison the cache
    x2, _ = data.load_mnist("train", root=root, download=False)
    assert x2.max() > 0


def test_bundled_sample_md5_shapes_and_stratified_split(tmp_path):
    for name, md5 in data.SAMPLE_FILES.values():
        assert hashlib.md5(data._sample_path(name).read_bytes()).hexdigest() == md5
    x_train, y_train = data.load_mnist("train", root=tmp_path, download=False)
    x_test, y_test = data.load_mnist("test", root=tmp_path, download=False)
    assert "sample" in data.source()
    assert x_train.shape == (8000, 1, 28, 28) and x_test.shape == (2000, 1, 28, 28)
    assert 0.0 <= float(x_train.min()) and float(x_train.max()) == 1.0
    # Stratified: each class holds the same share of the test split as of the whole sample.
    _, all_labels = data._load_sample()
    whole = torch.bincount(all_labels, minlength=10).double() / len(all_labels)
    test_share = torch.bincount(y_test, minlength=10).double() / len(y_test)
    assert (whole - test_share).abs().max() < 1e-3
    # The two splits partition the sample: no image is in both.
    train_keys = {hash(img.numpy().tobytes()) for img in x_train}
    assert sum(hash(img.numpy().tobytes()) in train_keys for img in x_test) < 5  # MNIST has dupes


def test_sample_split_is_stable():
    _, labels = data._load_sample()
    train_a, test_a = data._sample_split(labels)
    train_b, test_b = data._sample_split(labels)
    assert torch.equal(test_a, test_b) and torch.equal(train_a, train_b)
    assert len(test_a) == 2000 and len(train_a) == 8000
    # Pinned: the split must not drift between releases (graders and lessons depend on it).
    assert test_a[:5].tolist() == [14, 15, 18, 35, 46]


def test_limit_is_stratified_and_digits_filter(tmp_path):
    x, y = data.load_mnist("train", root=tmp_path, download=False, limit=500)
    assert len(x) == 500
    counts = torch.bincount(y, minlength=10)
    assert counts.min() >= 40 and counts.max() <= 60
    x9, y9 = data.load_mnist("test", root=tmp_path, download=False, digits=[0, 9], limit=50)
    assert set(y9.tolist()) == {0, 9} and len(y9) == 50
    with pytest.raises(ValueError, match="digits"):
        data.load_mnist("test", root=tmp_path, download=False, digits=[10])
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("validation")


def test_static_binarisation_is_fixed_and_dynamic_varies(tmp_path):
    a, _ = data.load_mnist("test", root=tmp_path, download=False, limit=200, binarized=True)
    b, _ = data.load_mnist("test", root=tmp_path, download=False, limit=200, binarized=True)
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}
    grey, _ = data.load_mnist("test", root=tmp_path, download=False, limit=200)
    # P(pixel = 1) equals its intensity: the means agree (binomial standard error ~ 0.001).
    assert abs(float(a.mean() - grey.mean())) < 0.01
    d1, d2 = data.binarize(grey), data.binarize(grey)
    assert not torch.equal(d1, d2)


def test_download_without_network_falls_back_within_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_CACHE", {})
    monkeypatch.setattr(data, "_DOWNLOAD_FAILED", set())
    monkeypatch.setattr(data, "_online", lambda timeout=3.0: False)  # as on a plane
    start = time.perf_counter()
    x, _ = data.load_mnist("test", root=tmp_path, download=True)
    assert time.perf_counter() - start < 10
    assert len(x) == 2000 and "sample" in data.source()


def test_batches_cover_every_example_once():
    x = torch.arange(10).float()
    y = torch.arange(10) * 10
    seen = []
    g = torch.Generator().manual_seed(0)
    for xb, yb in data.batches(x, y, batch_size=4, shuffle=True, generator=g):
        assert torch.equal(yb, xb.long() * 10)  # rows stay aligned
        seen += xb.long().tolist()
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    sizes = [len(b) for b in data.batches(x, batch_size=4)]
    assert sizes == [4, 4, 2]
    assert [len(b) for b in data.batches(x, batch_size=4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="same first dimension"):
        next(data.batches(x, y[:3], batch_size=2))


def test_fast_mode_and_default_device(monkeypatch):
    monkeypatch.setenv("VAELAB_FAST", "1")
    assert fast_mode()
    monkeypatch.setenv("VAELAB_FAST", "0")
    assert not fast_mode()
    assert default_device().type in {"cpu", "cuda", "mps"}


@pytest.fixture
def fake_fashion(tmp_path):
    """A tiny Fashion-MNIST in torchvision's layout: root/FashionMNIST/raw (train 30, test 10)."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(2)
    splits = {}
    for prefix, n in (("train", 30), ("t10k", 10)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = (torch.arange(n, dtype=torch.uint8) * 7) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images, compress=True)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        splits[prefix] = (images, labels)
    return tmp_path, splits


def test_fashion_mnist_on_disk_is_read_as_uint8_with_the_idx_parser(fake_fashion):
    root, splits = fake_fashion
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = data.load_dataset("fashion-mnist", split, root=root, download=False)
        images, labels = splits[prefix]
        assert x.dtype == torch.uint8 and x.shape == (len(labels), 1, 28, 28)
        assert torch.equal(x[:, 0], images) and torch.equal(y, labels.long())
    assert "Fashion-MNIST" in data.source()
    x, y = data.load_dataset("fashion-mnist", "train", root=root, download=False, limit=10)
    assert len(x) == 10 and torch.bincount(y, minlength=10).max() == 1  # stratified


def test_fashion_mnist_offline_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_DOWNLOAD_FAILED", set())
    monkeypatch.setattr(data, "_online", lambda timeout=3.0, hosts=(): False)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST is not on disk") as info:
        data.load_dataset("fashion-mnist", "train", root=tmp_path)
    assert time.perf_counter() - start < 10 and "\n" not in str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in str(info.value)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load_dataset("cifar10")


def test_mnist_through_load_dataset_is_load_mnist_in_uint8(fake_mnist):
    root, _ = fake_mnist
    x8, y8 = data.load_dataset("mnist", "test", root=root, download=False)
    x, y = data.load_mnist("test", root=root, download=False)
    assert x8.dtype == torch.uint8 and torch.equal(data.to_float(x8), x) and torch.equal(y8, y)


def test_to_float_scales_uint8_and_batches_keep_uint8():
    x8 = torch.tensor([0, 51, 255], dtype=torch.uint8).view(3, 1, 1, 1)
    x = data.to_float(x8)
    assert x.dtype == torch.float32 and x.flatten().tolist() == pytest.approx([0.0, 0.2, 1.0])
    assert data.to_float(x) is x  # floats pass through
    with pytest.raises(ValueError, match="uint8 in 0..255 or floats"):
        data.to_float(x8.long())
    g = torch.Generator().manual_seed(0)
    batches = list(data.batches(x8, batch_size=2, shuffle=True, generator=g))
    assert all(b.dtype == torch.uint8 for b in batches)
    assert sorted(torch.cat(batches).flatten().tolist()) == [0, 51, 255]
