"""Latent spaces you can touch: a decoder that runs in the browser, in JupyterLab and in the book.

``latent_map`` draws a 2-D latent space (codes coloured by label, optionally over a density)
and decodes the code under the pointer as you move; click two points for the linear and the
spherical path between them, decoded step by step. ``sliders`` gives one slider per latent
dimension, each labelled with its KL; ``traversals`` adds the known factors of ``vaelab.shapes``
next to them.

The decoder's weights go to the page once and the decoder runs there, in plain JavaScript
(matrix products for MLP decoders, direct loops for (transposed) convolutions), so a drag
decodes at screen rate with no round trip to the kernel. In JupyterLab the explorer is an
anywidget; where no kernel runs (the course's book, a saved HTML file) the same code runs from
a self-contained copy in the output (``Explorer.to_html``), weights included.

What the page draws is the model's own ``sigmoid(model.decode(z))`` for the code shown: the
tests compare the two pixel by pixel.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import secrets
from pathlib import Path

import torch
from torch import nn

__all__ = ["decoder_spec", "latent_map", "sliders", "traversals"]

ASSETS = Path(__file__).resolve().parent / "_explore"  # explore.js, explore.css (built from js/)
COLLAPSED_KL = 0.01  # nats: a dimension below this is marked as at the prior


def _floats(t: torch.Tensor) -> str:
    """float32, little-endian, base64: what ``floats`` in js/src/decoder.js reads."""
    array = t.detach().to("cpu", torch.float32).contiguous().numpy()
    return base64.b64encode(array.astype("<f4").tobytes()).decode("ascii")


def _bytes(t: torch.Tensor) -> str:
    return base64.b64encode(
        t.detach().to("cpu", torch.uint8).contiguous().numpy().tobytes()
    ).decode("ascii")


def _pair(value, name: str, module: nn.Module) -> int:
    values = value if isinstance(value, tuple) else (value, value)
    if len(set(values)) != 1:
        raise ValueError(f"{module}: the explorer needs the same {name} in both directions")
    return int(values[0])


def _conv_layer(module, kind: str, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    if len(shape) != 3 or shape[0] != module.in_channels:
        raise ValueError(
            f"{module} gets input of shape {shape}, expected ({module.in_channels}, H, W)"
        )
    if module.groups != 1 or _pair(module.dilation, "dilation", module) != 1:
        raise ValueError(f"{module}: the explorer runs convolutions with groups=1 and dilation=1")
    if isinstance(module.padding, str) or module.padding_mode != "zeros":
        raise ValueError(f"{module}: the explorer needs integer zero padding")
    k = _pair(module.kernel_size, "kernel size", module)
    s = _pair(module.stride, "stride", module)
    p = _pair(module.padding, "padding", module)
    _, h, w = shape
    if kind == "conv_transpose":
        extra = _pair(module.output_padding, "output padding", module)
        out_h, out_w = ((h - 1) * s - 2 * p + k + extra, (w - 1) * s - 2 * p + k + extra)
    else:
        out_h, out_w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = (module.out_channels, out_h, out_w)
    bias = module.bias if module.bias is not None else torch.zeros(module.out_channels)
    layer = {
        "kind": kind,
        "in_shape": list(shape),
        "out_shape": list(out),
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "weight": _floats(module.weight),
        "bias": _floats(bias),
    }
    return layer, out


def decoder_spec(model: nn.Module) -> dict:
    """The model's decoder as plain data for the browser: its layers, in order, with weights.

    Supported layers (in an ``nn.Sequential`` at ``model.decoder``): Linear, ReLU, Tanh,
    Sigmoid, Unflatten to (C, H, W), Conv2d, ConvTranspose2d and nearest-neighbour Upsample:
    every MLP and conv decoder of ``vaelab.models``. An autoregressive decoder (PixelCNN) draws
    pixel by pixel and cannot be explored this way.

    Returns:
        A dict with ``latent_dim``, ``image_shape`` (``[C, H, W]``) and ``layers`` (one dict per
        layer, weights as base64 float32).
    """
    decoder = getattr(model, "decoder", None)
    if getattr(model, "autoregressive", False) or not isinstance(decoder, nn.Sequential):
        raise TypeError(
            f"{type(model).__name__}: the explorer runs a decoder that maps a code to an image in "
            "one pass (model.decoder as nn.Sequential, like vaelab.models' MLP and conv VAEs); "
            "an autoregressive decoder draws one pixel at a time"
        )
    latent_dim = int(model.latent_dim)
    shape: tuple[int, ...] = (latent_dim,)
    layers = []
    for module in decoder:
        if isinstance(module, nn.Linear):
            if shape != (module.in_features,):
                raise ValueError(f"{module} gets input of shape {shape}")
            bias = module.bias if module.bias is not None else torch.zeros(module.out_features)
            layer = {
                "kind": "linear",
                "in_features": module.in_features,
                "out_features": module.out_features,
                "weight": _floats(module.weight),
                "bias": _floats(bias),
            }
            shape = (module.out_features,)
        elif isinstance(module, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
            layer = {
                "kind": {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}[type(module)]
            }
        elif isinstance(module, nn.Unflatten):
            target = tuple(int(s) for s in module.unflattened_size)
            if (
                module.dim != 1
                or len(shape) != 1
                or len(target) != 3
                or math.prod(target) != shape[0]
            ):
                raise ValueError(f"{module}: the explorer unflattens (B, C*H*W) to (B, C, H, W)")
            layer, shape = {"kind": "unflatten", "shape": list(target)}, target
        elif isinstance(module, nn.ConvTranspose2d):
            layer, shape = _conv_layer(module, "conv_transpose", shape)
        elif isinstance(module, nn.Conv2d):
            layer, shape = _conv_layer(module, "conv", shape)
        elif isinstance(module, nn.Upsample) and module.mode == "nearest" and len(shape) == 3:
            if module.size is not None:
                size = module.size if isinstance(module.size, tuple) else (module.size,) * 2
            else:
                factor = module.scale_factor
                fy, fx = factor if isinstance(factor, tuple) else (factor, factor)
                size = (math.floor(shape[1] * fy), math.floor(shape[2] * fx))
            target = (shape[0], int(size[0]), int(size[1]))
            layer = {"kind": "upsample_nearest", "in_shape": list(shape), "out_shape": list(target)}
            shape = target
        else:
            raise TypeError(
                f"the explorer cannot run {module!r} in the browser: supported layers are "
                "Linear, ReLU, Tanh, Sigmoid, Unflatten, Conv2d, ConvTranspose2d and "
                "Upsample(mode='nearest')"
            )
        layer["size"] = math.prod(shape)
        layers.append(layer)
    image_shape = tuple(int(s) for s in model.config.image_shape)
    if math.prod(shape) != math.prod(image_shape):
        raise ValueError(f"the decoder ends with shape {shape}, not the image's {image_shape}")
    return {"latent_dim": latent_dim, "image_shape": list(image_shape), "layers": layers}


@functools.cache
def _explorer_class():
    try:
        import anywidget
        import traitlets
    except ImportError as err:  # pragma: no cover - anywidget is in vaelab[lab]
        raise ImportError(
            "vaelab.explore needs anywidget: `pip install anywidget` (part of vaelab[lab])"
        ) from err

    class Explorer(anywidget.AnyWidget):
        """The latent explorer. ``spec`` goes to the page once; ``z`` is the code on show."""

        _esm = ASSETS / "explore.js"
        _css = ASSETS / "explore.css"
        spec = traitlets.Dict().tag(sync=True)
        z = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is not None:
                data = bundle[0] if isinstance(bundle, tuple) else bundle
                data["text/plain"] = f"<vaelab.explore: {self.spec.get('mode', '?')}>"
                data["text/html"] = self.to_html()  # no kernel: the book, a notebook viewer
            return bundle

        def to_html(self) -> str:
            """A self-contained copy (code, style, weights) that runs with no kernel."""
            return static_html(self.spec)

        def save_html(self, path) -> Path:
            """Write a standalone page with this explorer; returns its path."""
            path = Path(path)
            path.write_text(
                "<!doctype html>\n<html><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>vaelab explorer</title></head><body>\n{self.to_html()}\n</body></html>\n",
                encoding="utf-8",
            )
            return path

    return Explorer


def static_html(spec: dict) -> str:
    """The explorer as HTML that runs with no kernel: the bundle, its style and ``spec`` inline.

    The bundle is imported from a blob URL (nothing is fetched); a page with several explorers
    carries the code once per explorer (about 20 kB each).
    """
    uid = "vaelab-explore-" + secrets.token_hex(6)
    payload = {
        "spec": spec,
        "code": (ASSETS / "explore.js").read_text(encoding="utf-8"),
        "css": (ASSETS / "explore.css").read_text(encoding="utf-8"),
    }
    # "</" inside a <script> would end it early; "<\/" reads the same in JSON.
    text = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    loader = (
        "(async () => {"
        f"const host = document.getElementById('{uid}');"
        f"const data = JSON.parse(document.getElementById('{uid}-data').textContent);"
        "if (!document.getElementById('vaelab-explore-style')) {"
        "const style = document.createElement('style'); style.id = 'vaelab-explore-style';"
        "style.textContent = data.css; document.head.appendChild(style); }"
        "const url = URL.createObjectURL(new Blob([data.code], {type: 'text/javascript'}));"
        "const mod = await import(url); URL.revokeObjectURL(url);"
        "mod.mountStatic(host, data.spec);"
        "})();"
    )
    return (
        f'<div id="{uid}" class="vaelab-explore-host">'
        f"<noscript>The latent explorer needs JavaScript.</noscript></div>\n"
        f'<script type="application/json" id="{uid}-data">{text}</script>\n'
        f'<script type="module">{loader}</script>'
    )


def _explorer(spec: dict):
    return _explorer_class()(spec=spec)


def _extent(codes: torch.Tensor) -> list[float]:
    """A square view around the origin holding 99.5% of the codes, and at least [-3, 3]."""
    reach = torch.quantile(codes.abs().double().flatten(), 0.995).item() * 1.08
    reach = max(3.0, reach)
    return [-reach, reach, -reach, reach]


def _density_layer(name: str, log_density, extent: list[float], size: int) -> dict:
    x0, x1, y0, y1 = extent
    xs = torch.linspace(x0, x1, size, dtype=torch.float64)
    ys = torch.linspace(y1, y0, size, dtype=torch.float64)  # row 0 at the top
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    with torch.no_grad():
        values = []
        for chunk in grid.float().split(4096):
            values.append(torch.as_tensor(log_density(chunk)).detach().double().cpu().flatten())
    values = torch.cat(values)
    if values.shape != (size * size,) or not torch.isfinite(values).any():
        raise ValueError(
            f"density {name!r} must give one finite log-density per code (M, 2) -> (M,)"
        )
    return {"name": name, "size": size, "log_density": _floats(values)}


def latent_map(
    model: nn.Module,
    codes: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    densities: dict | None = None,
    extent: tuple[float, float, float, float] | None = None,
    num_steps: int = 9,
    max_points: int = 4000,
    grid_size: int = 96,
    title: str | None = None,
):
    """A 2-D latent map that decodes the code under the pointer, live, in the browser.

    Click (or tap) two points for the linear and the spherical path between them, each decoded
    in ``num_steps`` steps. Pass ``densities`` to colour the map by a log-density, for instance
    ``{"prior p(z)": model.prior.log_prob}``; several give buttons to switch between them.

    Args:
        model: a VAE or autoencoder with a 2-D latent (``model.decoder`` an nn.Sequential).
        codes: (N, 2) codes to draw, e.g. the posterior means of test images.
        labels: (N,) integer labels (digits) for the colours, or None.
        densities: name -> function from codes (M, 2) to log-densities (M,).
        extent: (z1_min, z1_max, z2_min, z2_max) of the view; default from the codes.
        num_steps: codes on each path, both ends included.
        max_points: draw at most this many codes (an evenly spread subset).
        grid_size: the densities are evaluated on a grid_size x grid_size grid.
        title: a line above the map.

    Returns:
        The explorer widget; ``explorer.z`` is the code last shown (JupyterLab only).
    """
    if model.latent_dim != 2:
        raise ValueError(f"latent_map needs a 2-D latent, this model has {model.latent_dim}")
    codes = torch.as_tensor(codes).detach().cpu().float()
    if codes.dim() != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must be (N, 2), got {tuple(codes.shape)}")
    if labels is not None:
        labels = torch.as_tensor(labels).detach().cpu().long()
        if labels.shape != (len(codes),) or (labels < 0).any() or (labels > 255).any():
            raise ValueError(f"labels must be (N,) = ({len(codes)},) integers in 0..255")
    if len(codes) > max_points:
        keep = torch.linspace(0, len(codes) - 1, max_points).round().long()
        codes = codes[keep]
        labels = labels[keep] if labels is not None else None
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2 (both ends), got {num_steps}")
    view = [float(v) for v in extent] if extent is not None else _extent(codes)
    if len(view) != 4 or not (view[0] < view[1] and view[2] < view[3]):
        raise ValueError(f"extent must be (z1_min, z1_max, z2_min, z2_max), got {extent}")
    layers = [_density_layer(name, fn, view, grid_size) for name, fn in (densities or {}).items()]
    spec = {
        "mode": "map",
        "title": title,
        "decoder": decoder_spec(model),
        "codes": _floats(codes),
        "labels": _bytes(labels) if labels is not None else None,
        "extent": view,
        "densities": layers,
        "num_steps": int(num_steps),
    }
    return _explorer(spec)


def _dims(latent_dim: int, kl_per_dim, notes) -> list[dict]:
    kl = None
    if kl_per_dim is not None:
        kl = torch.as_tensor(kl_per_dim).detach().cpu().double().flatten()
        if len(kl) != latent_dim:
            raise ValueError(f"kl_per_dim has {len(kl)} values for {latent_dim} dimensions")
    dims = []
    for d in range(latent_dim):
        value = None if kl is None else float(kl[d])
        dims.append(
            {
                "index": d,
                "kl": value,
                "collapsed": value is not None and value < COLLAPSED_KL,
                "note": notes[d] if notes else None,
            }
        )
    return dims


def sliders(
    model: nn.Module,
    z: torch.Tensor | None = None,
    *,
    kl_per_dim: torch.Tensor | None = None,
    span: float = 3.0,
    title: str | None = None,
    _extra: dict | None = None,
):
    """One slider per latent dimension, each labelled with its KL, and the decoded image.

    Moving a dimension that carries no information (KL near 0: collapsed) leaves the image as
    it is; moving an active one changes it.

    Args:
        model: a VAE or autoencoder (``model.decoder`` an nn.Sequential).
        z: (D,) the code to start from (default 0, the prior's mean); "reset" returns to it.
        kl_per_dim: (D,) KL of each dimension in nats, e.g. ``history.test_kl_per_dim[-1]``.
        span: each slider runs from -span to span (and covers z's own value).
        title: a line above the sliders.
    """
    latent_dim = int(model.latent_dim)
    start = torch.zeros(latent_dim) if z is None else torch.as_tensor(z).detach().cpu().float()
    if start.shape != (latent_dim,):
        raise ValueError(f"z must be one code of shape ({latent_dim},), got {tuple(start.shape)}")
    if not span > 0:
        raise ValueError(f"span must be positive, got {span}")
    notes = (_extra or {}).pop("notes", None)
    spec = {
        "mode": "sliders",
        "title": title,
        "decoder": decoder_spec(model),
        "start": [float(v) for v in start],
        "span": float(max(span, start.abs().max().item())),
        "dims": _dims(latent_dim, kl_per_dim, notes),
        "factors": [],
        **(_extra or {}),
    }
    return _explorer(spec)


def traversals(
    model: nn.Module,
    z: torch.Tensor,
    *,
    factors: torch.Tensor,
    kl_per_dim: torch.Tensor | None = None,
    mi_share: torch.Tensor | None = None,
    span: float = 3.0,
    title: str | None = None,
):
    """Latent traversals for a VAE trained on ``vaelab.shapes``, next to the known factors.

    One slider per latent dimension (labelled with its KL and, given ``mi_share``, the factor
    it knows most about) drives the decoded image; beside it one slider per true factor
    (shape, scale, rotation, x, y) redraws the ground-truth image with that factor changed and
    the others as in ``factors``: what a perfectly disentangled dimension would do.

    Args:
        model: a VAE trained on shapes images.
        z: (D,) the code to start from, e.g. the posterior mean of the image with ``factors``.
        factors: (5,) grid indices of the start image's factors (``shapes.FACTORS`` order).
        kl_per_dim: (D,) KL of each dimension in nats.
        mi_share: (D, 5) share of each factor's entropy that each dimension holds (MI / H).
        span: each latent slider runs from -span to span.
        title: a line above.
    """
    from vaelab import shapes

    base = torch.as_tensor(factors).detach().cpu().long()
    if base.shape != (len(shapes.FACTORS),):
        raise ValueError(
            f"factors must be ({len(shapes.FACTORS)},) grid indices, got {tuple(base.shape)}"
        )
    rows = []
    for column, name in enumerate(shapes.FACTORS):
        size = shapes.FACTOR_SIZES[name]
        combos = base.repeat(size, 1)
        combos[:, column] = torch.arange(size)
        images = shapes.render(combos)  # (size, 1, 28, 28) in [0, 1]
        values = shapes.factor_values(name).tolist()
        shown = list(shapes.SHAPE_NAMES) if name == "shape" else [f"{v:.3g}" for v in values]
        rows.append(
            {
                "name": name,
                "values": shown,
                "start": int(base[column]),
                "images": _bytes((images * 255).round()),
                "image_shape": list(images.shape[1:]),
            }
        )
    notes = None
    if mi_share is not None:
        share = torch.as_tensor(mi_share).detach().cpu().double()
        if share.shape != (int(model.latent_dim), len(shapes.FACTORS)):
            raise ValueError(f"mi_share must be (D, 5), got {tuple(share.shape)}")
        best = share.argmax(dim=1)
        notes = [f"{shapes.FACTORS[int(k)]} {share[d, k]:.2f}" for d, k in enumerate(best.tolist())]
    return sliders(
        model,
        z,
        kl_per_dim=kl_per_dim,
        span=span,
        title=title,
        _extra={"factors": rows, "notes": notes},
    )
