"""Input checks whose errors name what was expected, what came, and the fix."""

from __future__ import annotations

import torch

__all__ = ["check_images", "check_latent"]


def _describe(x: torch.Tensor) -> str:
    return f"{tuple(x.shape)} {str(x.dtype).replace('torch.', '')}"


def check_images(
    x: torch.Tensor, image_shape: tuple[int, ...], *, name: str = "x", values: bool = True
) -> None:
    """Raise ValueError unless x is a float ``(B, *image_shape)`` batch with values in [0, 1].

    Args:
        x: (B, C, H, W) images.
        image_shape: the expected (C, H, W).
        values: also check for NaN and for values outside [0, 1] (one reduction over x).
    """
    expected = f"(B, {', '.join(map(str, image_shape))})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(
            f"expected {name} to be a torch.Tensor of shape {expected}, got {type(x).__name__}"
            " - convert with torch.as_tensor(...) or load images with vaelab.data.load_mnist"
        )
    if not x.is_floating_point():
        hint = " - divide by 255" if x.dtype == torch.uint8 else ""
        raise ValueError(
            f"expected {name} as floats in [0, 1] of shape {expected}, got dtype "
            f"{str(x.dtype).replace('torch.', '')}{hint}: use x.float() / 255 or vaelab.data"
        )
    if tuple(x.shape[1:]) != tuple(image_shape) or x.dim() != len(image_shape) + 1:
        numel = 1
        for s in image_shape:
            numel *= s
        hint = ""
        if x.dim() == 2 and x.shape[1] == numel:
            hint = f" - reshape with {name}.view(-1, {', '.join(map(str, image_shape))})"
        elif tuple(x.shape) == tuple(image_shape):
            hint = f" - add the batch dimension with {name}.unsqueeze(0)"
        elif x.dim() == len(image_shape) and tuple(x.shape[1:]) == tuple(image_shape[1:]):
            hint = f" - add the channel dimension with {name}.unsqueeze(1)"
        raise ValueError(f"expected {name} of shape {expected}, got {_describe(x)}{hint}")
    if values and x.numel():
        lo, hi = torch.aminmax(x.detach())
        lo, hi = float(lo), float(hi)
        if lo != lo or hi != hi:  # NaN compares unequal to itself
            raise ValueError(
                f"{name} contains NaN; expected values in [0, 1] - check the data pipeline "
                "or a division by zero before this call"
            )
        if lo < 0.0 or hi > 1.0:
            hint = " - divide by 255 or use vaelab.data" if hi > 1.0 else ""
            raise ValueError(
                f"expected {name} of shape {expected} with values in [0, 1], got values in "
                f"[{lo:g}, {hi:g}]{hint}"
            )


def check_latent(z: torch.Tensor, latent_dim: int, *, name: str = "z") -> None:
    """Raise ValueError unless z is a float (B, latent_dim) tensor without NaN."""
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        got = _describe(z) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"expected {name} as a float tensor of shape (B, {latent_dim}), got {got}")
    if z.dim() != 2 or z.shape[1] != latent_dim:
        hint = f" - add the batch dimension with {name}.unsqueeze(0)" if z.dim() == 1 else ""
        raise ValueError(f"expected {name} of shape (B, {latent_dim}), got {_describe(z)}{hint}")
