"""vaelab.data.load_images on folders written here: pixels against PIL, the cache, worker
processes, and one clear error for each kind of bad folder; conv models on RGB images."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab import _image_io, data, models, shapes


def coloured_shapes(n: int, *, size: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, size, size) uint8: white shapes from vaelab.shapes, each tinted one random colour."""
    x = shapes.make_shapes(n, seed=seed, size=size).x  # (n, 1, size, size) in [0, 1]
    colour = torch.rand(n, 3, 1, 1, generator=torch.Generator().manual_seed(seed))
    return (x * (0.2 + 0.8 * colour) * 255).round().to(torch.uint8)


def save(array, path, **kwargs) -> None:
    """Write an (H, W) or (H, W, C) uint8/uint16 array, or a PIL image, with PIL (an
    independent encoder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = array if isinstance(array, Image.Image) else Image.fromarray(array)
    image.save(path, **kwargs)


def hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()


def pil_reference(path, *, image_size: int, mode: str) -> np.ndarray:
    """The usual PIL pipeline: convert, crop the centred square, resize bilinear (antialiased)."""
    image = Image.open(path).convert(mode)
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != image_size:
        image = image.resize((image_size, image_size), Image.BILINEAR)
    array = np.asarray(image)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (C, H, W)


def test_crop_and_resize_agree_with_pil(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [(40, 30), (30, 50), (24, 24), (64, 33)]  # (width, height)
    for i, (w, h) in enumerate(sizes):
        save(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), tmp_path / f"{i}.png")
    x, files = data.load_images(tmp_path, image_size=16, cache=False, progress=False)
    assert files == ["0.png", "1.png", "2.png", "3.png"]
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.uint8
    for i, name in enumerate(files):
        expected = pil_reference(tmp_path / name, image_size=16, mode="RGB").astype(int)
        # torchvision's antialiased bilinear and PIL's differ by rounding only.
        assert np.abs(x[i].numpy().astype(int) - expected).max() <= 2, name
        assert np.abs(x[i].numpy().astype(int) - expected).mean() < 0.5, name


def test_native_size_keeps_pixels_exactly_and_jpeg_matches_pil(tmp_path):
    images = coloured_shapes(6, size=20)
    for i in range(6):
        save(hwc(images[i]), tmp_path / "a" / f"{i}.png")
    save(hwc(images[0]), tmp_path / "b" / "photo.JPG", quality=95)
    x, files = data.load_images(tmp_path, image_size=None, cache=False, progress=False)
    assert files == [f"a/{i}.png" for i in range(6)] + ["b/photo.JPG"]
    assert torch.equal(x[:6], images)  # PNG is lossless: the very pixels written
    decoded_by_pil = np.asarray(Image.open(tmp_path / "b" / "photo.JPG").convert("RGB"))
    assert np.abs(hwc(x[6]).astype(int) - decoded_by_pil.astype(int)).max() <= 2


def test_png_kinds_decode_like_pil(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    save(Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16), tmp_path / "p.png")
    save(np.dstack([rgb, rng.integers(0, 256, (12, 12, 1), dtype=np.uint8)]), tmp_path / "rgba.png")
    x, files = data.load_images(tmp_path, image_size=None, cache=False, progress=False)
    for i, name in enumerate(files):
        expected = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        assert np.array_equal(hwc(x[i]), expected), name  # palette expanded, alpha dropped


def test_greyscale_files_and_colour_converted_with_channels_1(tmp_path):
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (10, 10), dtype=np.uint8)
    save(grey, tmp_path / "grey.png")
    grey16 = rng.integers(0, 65536, (10, 10)).astype(np.uint16)
    save(grey16, tmp_path / "grey16.png")
    rgb = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)
    save(rgb, tmp_path / "rgb.png")
    x, files = data.load_images(tmp_path, image_size=None, channels=1, cache=False, progress=False)
    assert files == ["grey.png", "grey16.png", "rgb.png"] and x.shape == (3, 1, 10, 10)
    assert np.array_equal(x[0, 0].numpy(), grey)
    assert np.array_equal(x[1, 0].numpy(), (grey16 >> 8).astype(np.uint8))  # 16 -> 8 bits
    luma = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)  # ITU-R 601, PIL's way
    assert np.abs(x[2, 0].numpy().astype(int) - luma).max() <= 1


def test_worker_processes_give_the_same_tensor_and_order(tmp_path):
    images = coloured_shapes(2 * _image_io.CHUNK_SIZE + 5, size=8, seed=3)  # three chunks
    for i, image in enumerate(images):
        save(hwc(image), tmp_path / f"{i:03d}.png")
    one, _ = data.load_images(tmp_path, image_size=8, num_workers=1, cache=False, progress=False)
    two, _ = data.load_images(tmp_path, image_size=8, num_workers=2, cache=False, progress=False)
    assert torch.equal(one, images) and torch.equal(two, images)


def test_cache_is_reused_and_invalidated_by_a_changed_file(tmp_path, monkeypatch):
    images = coloured_shapes(5, size=12)
    for i in range(5):
        save(hwc(images[i]), tmp_path / f"{i}.png")
    first = data.load_images(tmp_path, image_size=8, progress=False)
    (cache_file,) = (tmp_path / _image_io.CACHE_DIR_NAME).iterdir()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(_image_io, "decode_files", no_decoding)
        again = data.load_images(tmp_path, image_size=8, progress=False)
    assert torch.equal(again.x, first.x) and again.files == first.files
    # Other options are another cache entry; a changed file is decoded again.
    assert data.load_images(tmp_path, image_size=6, progress=False).x.shape[-1] == 6
    save(hwc(images[0].flip(0)), tmp_path / "4.png")  # new content, new size and time
    changed = data.load_images(tmp_path, image_size=8, progress=False)
    assert not torch.equal(changed.x[4], first.x[4]) and torch.equal(changed.x[:4], first.x[:4])
    assert cache_file.exists() and len(list(cache_file.parent.iterdir())) == 2


def test_read_only_folder_caches_under_the_data_root(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    for i, image in enumerate(coloured_shapes(3, size=8)):
        save(hwc(image), folder / f"{i}.png")
    (folder / _image_io.CACHE_DIR_NAME).write_text("a file where the cache folder would go")
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "root"))
    data.load_images(folder, image_size=8, progress=False)
    assert len(list((tmp_path / "root" / "image-cache").rglob("*.pt"))) == 1


def test_unreadable_files_are_named_in_one_warning_and_skipped(tmp_path):
    images = coloured_shapes(3, size=8)
    for i in range(3):
        save(hwc(images[i]), tmp_path / f"{i}.png")
    (tmp_path / "1.png").write_bytes((tmp_path / "1.png").read_bytes()[:40])  # truncated
    (tmp_path / "fake.jpg").write_text("not a picture")
    (tmp_path / "labels.csv").write_text("a,b\n")  # not an image file: ignored
    (tmp_path / ".hidden.png").write_text("ignored")
    for _ in range(2):  # the same warning when the result comes from the cache
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x, files = data.load_images(tmp_path, image_size=8, progress=False)
        assert files == ["0.png", "2.png"] and torch.equal(x, images[[0, 2]])
        (message,) = [str(w.message) for w in caught]
        assert "skipped 2 of 4" in message and "1.png" in message and "fake.jpg" in message
        assert "not a PNG or JPEG" in message


def one_line_error(exc_type, match: str, folder, **kwargs):
    with pytest.raises(exc_type, match=match) as info:
        data.load_images(folder, cache=False, progress=False, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_bad_folders_give_one_clear_line_each(tmp_path):
    one_line_error(FileNotFoundError, "no folder at", tmp_path / "missing", image_size=8)
    (tmp_path / "file.png").write_bytes(b"")
    one_line_error(NotADirectoryError, "not a folder", tmp_path / "file.png", image_size=8)
    (tmp_path / "empty").mkdir()
    one_line_error(ValueError, "holds no files", tmp_path / "empty", image_size=8)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    (tmp_path / "docs" / "b.gif").write_bytes(b"GIF89a")
    message = one_line_error(ValueError, "no PNG or JPEG", tmp_path / "docs", image_size=8)
    assert ".gif" in message and ".txt" in message
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("text")
    one_line_error(ValueError, "none of the 1 image files", tmp_path / "junk", image_size=8)
    with pytest.raises(ValueError, match="channels must be 1"):
        data.load_images(tmp_path, image_size=8, channels=4)
    with pytest.raises(ValueError, match="image_size must be"):
        data.load_images(tmp_path, image_size=0)


def test_mixed_kinds_and_sizes_and_small_images_are_refused(tmp_path):
    rng = np.random.default_rng(4)
    mixed = tmp_path / "mixed"
    save(rng.integers(0, 256, (16, 16), dtype=np.uint8), mixed / "grey.png")
    save(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), mixed / "colour.png")
    message = one_line_error(ValueError, "mixes greyscale and colour", mixed, image_size=8)
    assert "grey.png" in message and "colour.png" in message and "channels=1" in message
    assert data.load_images(mixed, image_size=8, channels=1, cache=False).x.shape == (2, 1, 8, 8)

    grey = tmp_path / "grey"
    save(rng.integers(0, 256, (16, 16), dtype=np.uint8), grey / "a.png")
    one_line_error(ValueError, "are greyscale .* pass channels=1", grey, image_size=8)

    sizes = tmp_path / "sizes"
    save(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), sizes / "a.png")
    save(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), sizes / "b.png")
    save(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8), sizes / "c.png")
    message = one_line_error(ValueError, "come in 2 sizes", sizes, image_size=None)
    assert "16x16 pixels: 2" in message and "12x10 pixels: 1 (e.g. c.png)" in message
    assert "--image-size" in message
    message = one_line_error(ValueError, "1 of 3 images .* smaller than image_size=12", sizes,
                             image_size=12)  # fmt: skip
    assert "c.png, 12x10 pixels" in message
    assert data.load_images(sizes, image_size=10, cache=False).x.shape == (3, 3, 10, 10)


def test_limit_reads_the_first_files(tmp_path):
    images = coloured_shapes(6, size=8)
    for i in range(6):
        save(hwc(images[i]), tmp_path / f"{i}.png")
    x, files = data.load_images(tmp_path, image_size=8, limit=4, progress=False)
    assert files == ["0.png", "1.png", "2.png", "3.png"] and torch.equal(x, images[:4])
    assert len(data.load_images(tmp_path, image_size=8, progress=False).x) == 6


@pytest.mark.parametrize("size", [32, 64])
def test_conv_vae_on_rgb_images_of_32_and_64_pixels(size):
    config = models.conv_config_for((3, size, size), latent_dim=16)
    assert len(config.channels) == (3 if size == 32 else 4)
    model = models.ConvVAE(config)
    x = data.to_float(coloured_shapes(4, size=size))
    out = model(x, generator=torch.Generator().manual_seed(0))
    assert out.x_logits.shape == (4, 3, size, size) and out.mu.shape == (4, 16)
    # The encoder's last map is 4x4 before the bottleneck; the decoder mirrors it.
    assert model.encoder(x).shape == (4, config.channels[-1] * 4 * 4)
    out.x_logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert models.build(model.spec()).spec() == model.spec()
    upsample = models.UpsampleConvVAE(config, decoder="upsample")
    assert upsample.sample(2).shape == (2, 3, size, size)


def test_conv_config_for_follows_the_image_size():
    assert models.conv_config_for((1, 28, 28)).channels == models.ConvConfig().channels
    assert models.conv_config_for((3, 64, 64)).channels == (32, 64, 128, 256)
    assert models.conv_config_for((3, 128, 96)).channels == (32, 64, 128, 256, 512)
