import pytest
import torch

from pyg_mmrec.errors import DataError, NotInductiveError
from pyg_mmrec.graph import content_profile
from pyg_mmrec.ib import PlugIn
from pyg_mmrec.nn.conv import ItemItemConv
from pyg_mmrec.nn.models import (
    FREEDOM,
    GRCN,
    LATTICE,
    MMGCN,
    VBPR,
    VLATTICE,
    Capability,
    InvRL,
    ItemKNNCBF,
    Pop,
    VLightGCN,
)
from pyg_mmrec.registry import MODELS
from pyg_mmrec.train import make_trainer

BACKBONES = [cls for cls in MODELS.values() if not issubclass(cls, PlugIn)]
INDUCTIVE = [cls for cls in BACKBONES if Capability.INDUCTIVE in cls.capabilities]
ID_ONLY = [cls for cls in BACKBONES if Capability.INDUCTIVE not in cls.capabilities]


def _new_items(splits, rows, seed=0):
    """Feature rows of new items: perturbed copies of training items' rows."""
    gen = torch.Generator().manual_seed(seed)
    return {m: x[rows] + 0.1 * torch.randn(len(rows), x.size(1), generator=gen)
            for m, x in ((m, splits.train['item'][f'x_{m}']) for m in ('image', 'text'))}


def _dense(x):
    """A representation as a dense tensor (ItemKNN-CBF's item rows are sparse)."""
    return x.to_dense() if x.is_sparse else x


def _build(cls, splits):
    torch.manual_seed(0)
    kwargs = {'embedding_dim': 16} if cls.trainable else {}
    return cls.from_data(splits.train, **kwargs).eval()


def test_the_feature_models_are_inductive_and_the_id_models_are_not():
    assert {c.__name__ for c in ID_ONLY} >= {'BPRMF', 'LightGCN', 'LayerGCN', 'SGL'}
    assert {c.__name__ for c in INDUCTIVE} >= {'VBPR', 'VLightGCN', 'LATTICE', 'VLATTICE',
                                               'FREEDOM', 'ItemKNNCBF', 'Pop'}


@pytest.mark.parametrize('cls', INDUCTIVE)
def test_new_items_are_represented_from_their_features_alone(cls, tiny_splits):
    model = _build(cls, tiny_splits)
    with torch.no_grad():
        out = model.encode(tiny_splits.train)
        features = _new_items(tiny_splits, [3, 7, 11, 20])
        new = _dense(model.encode_new_items(tiny_splits.train, features, out))
        assert new.shape == (4, out.item.size(1)) and torch.isfinite(new).all()
        # one item's representation depends on its own rows, not on the other new items
        alone = _dense(model.encode_new_items(tiny_splits.train, {m: x[2:3] for m, x in
                                                                  features.items()}, out))
        assert torch.allclose(alone[0], new[2], atol=1e-6)
        # ... and on its rows: other features, another representation
        other = _dense(model.encode_new_items(tiny_splits.train,
                                              _new_items(tiny_splits, [40, 50, 60, 70]), out))
        assert not torch.allclose(other, new)
        # the training items are what training made them
        after = model.encode(tiny_splits.train)
        assert torch.equal(_dense(after.item), _dense(out.item))
        assert torch.equal(after.user, out.user)


@pytest.mark.parametrize('cls', ID_ONLY)
def test_id_models_refuse_new_items_by_name(cls, tiny_splits):
    model = _build(cls, tiny_splits)
    with pytest.raises(NotInductiveError, match=f'{cls.__name__} represents an item by its ID'):
        model.encode_new_items(tiny_splits.train, _new_items(tiny_splits, [0]))


def test_id_models_refuse_the_cold_start_protocol_before_training(tiny_splits):
    with pytest.raises(NotInductiveError, match='LightGCN'):
        make_trainer('lightgcn', tiny_splits, {'cold_items': 0.2, 'progress': False})


def test_features_must_match_the_training_modalities(tiny_splits):
    model = _build(VBPR, tiny_splits)
    features = _new_items(tiny_splits, [0, 1])
    with pytest.raises(DataError, match='same widths'):
        model.encode_new_items(tiny_splits.train, {'image': features['image']})
    with pytest.raises(DataError, match='same widths'):
        model.encode_new_items(tiny_splits.train, {**features, 'text': features['text'][:, :3]})
    with pytest.raises(DataError, match='differ in rows'):
        model.encode_new_items(tiny_splits.train, {**features, 'text': features['text'][:1]})


def test_vbpr_new_item_is_its_content_half_with_a_zero_id(tiny_splits):
    model = _build(VBPR, tiny_splits)
    with torch.no_grad():
        # a new item with a training item's features has that item's content half
        features = {m: tiny_splits.train['item'][f'x_{m}'][5:6] for m in ('image', 'text')}
        new = model.encode_new_items(tiny_splits.train, features)
        out = model.encode(tiny_splits.train)
    assert torch.equal(new[0, :16], torch.zeros(16))
    assert torch.allclose(new[0, 16:], out.item_multimedia[5])


def test_vlightgcn_new_item_is_its_layer0_state_over_the_layer_count(tiny_splits):
    torch.manual_seed(0)
    model = VLightGCN.from_data(tiny_splits.train, embedding_dim=16, num_layers=3).eval()
    features = _new_items(tiny_splits, [1, 2])
    with torch.no_grad():
        assert torch.allclose(model.encode_new_items(tiny_splits.train, features),
                              model.new_item_state(features) / 4)


def test_item_graph_new_nodes_average_the_neighbours_previous_layer():
    x = torch.randn(5, 3)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    weight = torch.tensor([0.5, 1.0, 2.0, 1.0])
    new_graph = torch.tensor([[1, 4], [0, 0]]), torch.tensor([1.0, 3.0])
    own = torch.randn(1, 3)
    conv = ItemItemConv(2, normalize=False)
    layer1 = ItemItemConv(1, normalize=False)(x, edge_index, weight)
    expected = (layer1[1] + 3 * layer1[4]) / 4
    assert torch.allclose(conv.new_nodes(x, edge_index, weight, new_graph, own)[0], expected)
    assert torch.equal(ItemItemConv(0).new_nodes(x, edge_index, weight, new_graph, own), own)


@pytest.mark.parametrize('cls', [LATTICE, FREEDOM, VLATTICE])
def test_item_graph_models_join_new_items_to_their_content_neighbours(cls, tiny_splits):
    # A new item whose content neighbours are exactly one training item's takes that item's
    # previous-layer item-graph state (L' = 1: its ID embedding).
    torch.manual_seed(0)
    model = cls.from_data(tiny_splits.train, embedding_dim=16, knn_k=1).eval()
    features = {m: tiny_splits.train['item'][f'x_{m}'][9:10] for m in ('image', 'text')}
    edge_index, _ = model.new_item_graph(tiny_splits.train, features)
    assert edge_index[0].tolist() == [9]
    with torch.no_grad():
        new = model.encode_new_items(tiny_splits.train, features)
    if cls is VLATTICE:
        state = model.new_item_state(features)
        out = model.encode(tiny_splits.train)
        item_graph = torch.nn.functional.normalize(
            torch.cat([model.item_emb.weight[9], out.hidden[9]]), dim=0)
        assert torch.allclose(new[0], state[0] / 3 + item_graph, atol=1e-6)
    else:
        ids = model.embedding.weight[model.num_users + 9]
        expected = torch.nn.functional.normalize(ids, dim=0) if cls is LATTICE else ids
        assert torch.allclose(new[0], expected, atol=1e-6)


def test_pop_counts_training_interactions_and_estimates_new_items(tiny_splits):
    model = Pop.from_data(tiny_splits.train)
    user, item = model(tiny_splits.train)
    counts = torch.bincount(tiny_splits.train['user', 'interacts', 'item'].edge_index[1],
                            minlength=tiny_splits.num_items).float()
    assert torch.equal((user[:3] @ item.t())[1], counts)
    assert list(model.parameters()) == [] and not Pop.trainable
    features = {m: tiny_splits.train['item'][f'x_{m}'][[4]] for m in ('image', 'text')}
    new = model.encode_new_items(tiny_splits.train, features)
    edge_index, weight = model.new_item_graph(tiny_splits.train, features)
    w = weight.clamp_min(0)
    assert torch.allclose(new[0, 0], (counts[edge_index[0]] * w).sum() / w.sum())


def test_itemknn_cbf_scores_by_the_top_k_content_similarities(tiny_splits):
    model = ItemKNNCBF.from_data(tiny_splits.train, knn_k=5)
    user, item = model(tiny_splits.train)
    assert item.is_sparse and item.values().numel() == 5 * tiny_splits.num_items  # k per row
    scores = model.score(user, item)
    profile = content_profile({m: tiny_splits.train['item'][f'x_{m}']
                               for m in ('image', 'text')})
    sim = profile @ profile.t()
    sim.fill_diagonal_(float('-inf'))
    edges = tiny_splits.train['user', 'interacts', 'item'].edge_index
    u = 7
    seen = edges[1, edges[0] == u]
    for i in (0, 13, 42):
        top = sim[i].topk(5).indices
        expected = sum(float(sim[i, j]) for j in top if j in seen)
        assert scores[u, i].item() == pytest.approx(expected, abs=1e-5)
    features = {m: tiny_splits.train['item'][f'x_{m}'][[13]] for m in ('image', 'text')}
    new = model.encode_new_items(tiny_splits.train, features).to_dense()
    # a new item with item 13's features sees item 13 itself among its neighbours
    assert new[0, 13] == pytest.approx(1.0, abs=1e-5)
    assert int((new[0] != 0).sum()) == 5



def test_itemknn_cbf_reuses_its_rows_until_an_input_changes(tiny_splits):
    data = tiny_splits.train.clone()
    model = ItemKNNCBF.from_data(data, knn_k=5)
    first = model.encode(data)
    assert model.encode(data) is first
    data['item'].x_image[0] = data['item'].x_image[1]  # edited in place: computed anew
    edited = model.encode(data)
    assert edited is not first
    assert not torch.equal(edited.item.to_dense()[0], first.item.to_dense()[0])
    data['item'].x_image = data['item'].x_image.clone()  # another tensor: computed anew, equal
    again = model.encode(data)
    assert again is not edited and torch.equal(again.item.to_dense(), edited.item.to_dense())


# The ID table row of item i, per model whose new items are isolated nodes without an ID.
ID_ROW = {VBPR: lambda model, i: model.item_emb.weight[i],
          VLightGCN: lambda model, i: model.item_emb.weight[i],
          InvRL: lambda model, i: model.item_emb.weight[i],
          GRCN: lambda model, i: model.id_embedding.weight[model.num_users + i],
          MMGCN: lambda model, i: model.id_embedding.weight[model.num_users + i]}


@pytest.mark.parametrize('cls', list(ID_ROW))
def test_a_new_item_is_what_the_model_makes_of_an_isolated_item_without_id(cls, tiny_splits):
    # The content path is the model's own equations: a training item stripped of its
    # interactions and of its ID embedding gets exactly the new item's representation.
    item = 5
    data = tiny_splits.train.clone()
    edges = data['user', 'interacts', 'item'].edge_index
    data['user', 'interacts', 'item'].edge_index = edges[:, edges[1] != item]
    model = _build(cls, tiny_splits)
    with torch.no_grad():
        ID_ROW[cls](model, item).zero_()
        stripped = model.encode(data).item[item]
        features = {m: data['item'][f'x_{m}'][[item]] for m in ('image', 'text')}
        new = model.encode_new_items(data, features)[0]
    assert torch.allclose(new, stripped, atol=1e-5)


def test_plugins_represent_new_items_as_their_backbone(tiny_splits):
    from pyg_mmrec.ib import DVIB
    torch.manual_seed(0)
    model = DVIB.from_data(tiny_splits.train, backbone='vlightgcn', embedding_dim=16).eval()
    features = _new_items(tiny_splits, [2, 8])
    with torch.no_grad():
        assert torch.equal(model.encode_new_items(tiny_splits.train, features),
                           model.backbone.encode_new_items(tiny_splits.train, features))
    id_only = DVIB.from_data(tiny_splits.train, backbone='lightgcn', embedding_dim=16)
    with pytest.raises(NotInductiveError, match='LightGCN'):
        id_only.encode_new_items(tiny_splits.train, features)
