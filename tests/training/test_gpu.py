"""CUDA checks (marked ``gpu``; skipped without a CUDA device): training runs on the
device, the row-sparse path matches the dense one there, and bench scale reports cuda."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_utils.data import synthetic
from recsys_utils.models import MF
from recsys_utils.training import nets
from recsys_utils.training.loop import TrainConfig, train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def ratings():
    return synthetic.generate_ratings(n_ratings=20_000, n_users=400, n_items=200, seed=5)


@pytest.mark.parametrize("optimizer", ["adamw", "sparse_adam"])
def test_mf_trains_on_cuda_and_agrees_with_cpu(ratings, optimizer):
    kw = {
        "n_factors": 16,
        "epochs": 2,
        "batch_size": 4096,
        "optimizer": optimizer,
        "patience": None,
        "progress": False,
    }
    gpu = MF(device="cuda", **kw).fit(ratings)
    cpu = MF(device="cpu", **kw).fit(ratings)
    assert gpu.device.type == "cuda"
    assert all(p.device.type == "cuda" for p in gpu.net.parameters())
    users, items = ratings["user_id"].to_numpy()[:500], ratings["item_id"].to_numpy()[:500]
    # same init and batch order; only float summation order differs
    assert np.allclose(gpu.predict(users, items), cpu.predict(users, items), atol=1e-2)


def test_sparse_first_step_equals_dense_on_cuda():
    torch.manual_seed(0)
    a = nets.MFNet(50, 40, n_factors=8, mu=3.0).cuda()
    b = nets.MFNet(50, 40, n_factors=8, mu=3.0).cuda()
    b.load_state_dict(a.state_dict())
    g = torch.Generator().manual_seed(0)
    data = (
        torch.randint(0, 50, (300,), generator=g).cuda(),
        torch.randint(0, 40, (300,), generator=g).cuda(),
        (torch.randint(1, 11, (300,), generator=g) * 0.5).float().cuda(),
    )
    for net, opt in ((a, "adam"), (b, "sparse_adam")):
        train(
            net,
            data,
            None,
            TrainConfig(
                epochs=1, batch_size=300, optimizer=opt, lr=0.01, patience=None, progress=False
            ),
            clip=(0.5, 5),
        )
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_bench_scale_on_cuda():
    from recsys_utils.bench.scale import run_scale

    lines: list[str] = []
    figures = run_scale(
        20_000, dim=16, batch_size=4096, surprise_ratings=0, device="cuda", echo=lines.append
    )
    assert figures["mf_device"].startswith("cuda")
    assert any("on cuda" in line for line in lines)
