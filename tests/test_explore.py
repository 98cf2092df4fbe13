"""vaelab.explore without a browser: the decoder spec, its JavaScript decoder run by Node on the
shipped bundle against ``model.decode``, the self-contained HTML, and the errors a learner meets.

The same comparison in Chromium, through the widget's pointer and sliders, is in
``test_browser_explore.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from vaelab import explore, models

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "vaelab" / "_explore" / "explore.js"
RUNNER = ROOT / "tests" / "explore_decode.mjs"


def js_decode(model, codes: torch.Tensor, tmp_path) -> torch.Tensor:
    """The shipped bundle's decoder, run by Node on the spec of ``model``: (N, C*H*W)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is missing: `apt-get install nodejs` (it runs the bundle here)")
    spec = explore.decoder_spec(model)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"decoder": spec, "codes": codes.tolist()}))
    done = subprocess.run(
        [node, str(RUNNER), str(BUNDLE), str(request)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return torch.tensor(json.loads(done.stdout)["pixels"], dtype=torch.float64)


@pytest.mark.parametrize(
    "make",
    [
        lambda: models.MLPVAE(latent_dim=2),
        lambda: models.MLPVAE(latent_dim=5, hidden_dim=64),
        lambda: models.ConvVAE(latent_dim=3),
        lambda: models.UpsampleConvVAE(latent_dim=3),
    ],
    ids=["mlp-2d", "mlp-5d", "conv-transposed", "upsample-conv"],
)
def test_the_bundle_decodes_like_pytorch(make, tmp_path):
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():  # sharper logits than at initialisation: errors would show
        last = [m for m in model.decoder if hasattr(m, "weight")][-1]
        last.weight.mul_(8)
    codes = torch.randn(5, model.latent_dim) * 2
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(codes)).flatten(1).double()
    got = js_decode(model, codes, tmp_path)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < 1e-5
    assert expected.std() > 0.05  # the comparison sees real images, not a flat grey


def test_the_spec_lists_the_layers_with_their_shapes():
    spec = explore.decoder_spec(models.ConvVAE(latent_dim=4))
    assert spec["latent_dim"] == 4 and spec["image_shape"] == [1, 28, 28]
    kinds = [layer["kind"] for layer in spec["layers"]]
    assert kinds[:3] == ["linear", "relu", "unflatten"] and kinds[-1] == "conv_transpose"
    assert spec["layers"][-1]["out_shape"] == [1, 28, 28]


def test_unsupported_decoders_get_a_clear_error():
    with pytest.raises(TypeError, match="one pixel at a time"):
        explore.decoder_spec(models.PixelCNNVAE(latent_dim=2))
    model = models.MLPVAE(latent_dim=2)
    model.decoder[1] = nn.GELU()
    with pytest.raises(TypeError, match="GELU"):
        explore.decoder_spec(model)
    with pytest.raises(ValueError, match="2-D latent"):
        explore.latent_map(models.MLPVAE(latent_dim=3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="kl_per_dim has 2 values for 3 dimensions"):
        explore.sliders(models.MLPVAE(latent_dim=3), kl_per_dim=torch.ones(2))


def test_the_static_copy_is_self_contained():
    torch.manual_seed(0)
    model = models.MLPVAE(latent_dim=2)
    widget = explore.latent_map(
        model,
        torch.randn(50, 2),
        torch.randint(0, 10, (50,)),
        densities={"prior p(z)": lambda z: -0.5 * (z**2).sum(1)},
    )
    html = widget.to_html()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched
    assert "import(url)" in html and "mountStatic" in html
    script = html.split('type="application/json"', 1)[1].split("</script>", 1)[0]
    payload = json.loads(script.split(">", 1)[1])  # "</" escaped: the JSON ends where it should
    assert payload["spec"]["mode"] == "map" and payload["code"] == BUNDLE.read_text()
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data and "text/html" in data
