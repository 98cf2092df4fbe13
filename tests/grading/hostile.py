"""Submissions that try to break the grader (tests only): {folder: (file name, source)}."""

HOSTILE = {
    "loop": (
        "ex03_reparameterize.py",
        "def reparameterize(mu, logvar, eps=None):\n    while True:\n        pass\n",
    ),
    "exit0": ("ex03_reparameterize.py", "import sys\n\nsys.exit(0)\n"),
    "os_exit": (
        "ex03_reparameterize.py",
        "import os\n\nimport torch\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n"
        "    if eps is None and len(mu) > 1000:  # the checks of many samples\n"
        "        os._exit(3)\n"
        "    eps = torch.randn_like(mu) if eps is None else eps\n"
        "    return mu + torch.exp(0.5 * logvar) * eps\n",
    ),
    "syntax": ("ex04_elbo.py", "def kl_divergence(mu, logvar)\n    return 0\n"),
    "returns_list": (
        "ex07_evaluation.py",
        "def psnr(x, x_hat, max_val=1.0):\n    return [1.0, 2.0]\n\n\n"
        "def log_mean_exp(log_w, dim=0):\n    return log_w.tolist()\n",
    ),
    "prints_10mb": (
        "ex03_reparameterize.py",
        "import torch\n\n"
        "print('x' * 10_000_000)\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n"
        "    print('y' * 10_000_000)\n"
        '    print(\'{"points": 10, "max_points": 10, "passed": true}\')\n'
        "    eps = torch.randn_like(mu) if eps is None else eps\n"
        "    return mu + torch.exp(0.5 * logvar) * eps\n",
    ),
    "raises": (
        "ex06_posterior_collapse.py",
        "def active_units(mu, threshold=0.01):\n    raise ValueError('boom')\n\n\n"
        "def free_bits_kl(kl_per_dim, free_bits):\n    raise KeyboardInterrupt\n\n\n"
        "linear_kl_weight = 3\n",
    ),
    "import_error": ("ex05_sampling.py", "import does_not_exist  # noqa\n"),
    "segfault": (
        "ex03_reparameterize.py",
        "import ctypes\n\n\ndef reparameterize(mu, logvar, eps=None):\n    ctypes.string_at(0)\n",
    ),
    "warnings": (
        "ex03_reparameterize.py",
        "import sys\nimport warnings\n\nimport torch\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n"
        "    warnings.warn('something is deprecated', UserWarning)\n"
        "    print('noise on stderr', file=sys.stderr)\n"
        "    torch.tensor([1.0, 2.0]).resize_(3)  # a real torch warning\n"
        "    eps = torch.randn_like(mu) if eps is None else eps\n"
        "    return mu + torch.exp(0.5 * logvar) * eps\n",
    ),
}
