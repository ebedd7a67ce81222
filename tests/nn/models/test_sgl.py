import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.nn.models import SGL


def test_views_are_two_different_edge_dropouts_redrawn_each_epoch(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGL.from_data(data, embedding_dim=16, drop_ratio=0.2)
    first, second = model.views(data)
    assert not torch.equal(first.to_dense(), second.to_dense())
    # each view keeps about 1 - rho of the interactions (both directions of each)
    num_edges = data['user', 'interacts', 'item'].edge_index.size(1)
    for adj in (first, second):
        kept = adj.values().numel() / 2
        assert 0.7 * num_edges < kept < 0.9 * num_edges
    assert model.views(data)[0] is first  # shared by the batches of an epoch
    model.on_epoch_start(1)
    assert not torch.equal(model.views(data)[0].to_dense(), first.to_dense())


def test_info_nce_is_lower_for_matched_views_than_shuffled(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGL.from_data(data, embedding_dim=16).train()
    out = model.encode(data)
    first, second = out.views
    assert not torch.allclose(first, second)
    nodes = torch.arange(model.num_users)
    matched = MF.info_nce(first[nodes], second[nodes], model.ssl_temperature)
    shuffled = MF.info_nce(first[nodes], second[nodes[torch.randperm(nodes.numel())]],
                           model.ssl_temperature)
    assert matched < shuffled
    user, pos = data['user', 'interacts', 'item'].edge_index[:, :64]
    losses = model.batch_loss(out, user, pos, pos)
    expected = model.ssl_weight * model.ssl_loss(out.views, user, pos)
    assert torch.allclose(losses['ssl'], expected)
    # inference uses the full graph only, as LightGCN does
    model.eval()
    assert model.encode(data).views is None


def test_ssl_negatives_are_all_nodes_of_the_other_view(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGL.from_data(data, embedding_dim=16).train()
    first, second = (v.detach() for v in model.encode(data).views)
    user, pos = data['user', 'interacts', 'item'].edge_index[:, :8]
    base = model.ssl_loss((first, second), user, pos)
    # a user and an item outside the batch are negatives too: moving them changes the loss
    outside_user = next(u for u in range(model.num_users) if u not in user.tolist())
    outside_item = next(i for i in range(model.num_items) if i not in pos.tolist())
    for row in (outside_user, model.num_users + outside_item):
        moved = second.clone()
        moved[row] = first[user[0]] if row < model.num_users else first[model.num_users + pos[0]]
        assert not torch.isclose(model.ssl_loss((first, moved), user, pos), base)
