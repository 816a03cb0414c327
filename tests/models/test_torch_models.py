"""The torch embedding models: MF, CollabFNet, ImplicitMF and their tuned settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import FAST, table

from recsys_utils.models import ImplicitMF, make_model
from recsys_utils.models.recipes import TUNED
from recsys_utils.training import nets


def test_implicit_mf_builds_both_interaction_lists():
    # user 1 rated movies 10, 30; user 2 rated 20, 30 -> indices u0:{0,2}, u1:{1,2}
    model = ImplicitMF(**FAST).fit(table([1, 1, 2, 2], [10, 30, 20, 30], [4, 3, 2, 5]))
    inputs = model._net_inputs()
    indptr, items = inputs["user_items"]
    assert indptr.tolist() == [0, 2, 4] and items.tolist() == [0, 2, 1, 2]
    indptr, users = inputs["item_users"]  # movie 10: {u0}, 20: {u1}, 30: {u0, u1}
    assert indptr.tolist() == [0, 1, 2, 4] and users.tolist() == [0, 1, 0, 1]


def test_implicit_net_adds_normalised_sums_of_the_rated_rows():
    # one user who rated items 0 and 1; item 1 rated by users 0 only
    net = nets.ImplicitMFNet(
        1, 2, n_factors=2, mu=3.0, user_items=([0, 2], [0, 1]), item_users=([0, 1, 2], [0, 0])
    )
    with torch.no_grad():
        for emb in (net.user_emb, net.item_emb, net.user_bias, net.item_bias):
            emb.weight.zero_()
        net.user_emb.weight[0] = torch.tensor([1.0, 0.0])
        net.y_item.weight[:] = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
        net.z_user.weight[0] = torch.tensor([0.0, 2.0])
        net.item_emb.weight[1] = torch.tensor([1.0, 1.0])
    # p = [1,0] + ([1,1]+[1,-1])/sqrt(2) = [1+sqrt2, 0]; q_1 = [1,1] + [0,2]/1 = [1,3]
    pred = net(torch.tensor([0]), torch.tensor([1]))
    assert pred.item() == pytest.approx(3.0 + 1 + np.sqrt(2))
    assert net.score_all(torch.tensor([0]))[0, 1].item() == pytest.approx(pred.item())


def test_tuned_settings_are_valid_models():
    for name, params in TUNED.items():
        make_model(name, **params)


def test_implicit_mf_refuses_row_sparse_optimizers():
    with pytest.raises(ValueError, match="dense optimizer"):
        ImplicitMF(optimizer="sparse_adam")
