import torch
import torch.nn.functional as F

import pyg_mmrec.functional as MF
from pyg_mmrec.nn.modality_attention import ModalityAttention
from pyg_mmrec.nn.models import MICRO, LightGCN
from pyg_mmrec.registry import get_model_class
from pyg_mmrec.utils import batch_items


def dense(edge_index, edge_weight, n):
    # edge j -> i aggregates x_j into row i
    return torch.zeros(n, n).index_put_((edge_index[1], edge_index[0]), edge_weight,
                                        accumulate=True)


def build(splits, **hparams):
    torch.manual_seed(0)
    return MICRO.from_data(splits.train, embedding_dim=8, knn_k=5, **hparams).eval()


def test_registered_and_exposes_modalities_hidden_and_graphs(tiny_splits):
    assert get_model_class('micro') is MICRO
    out = build(tiny_splits).encode(tiny_splits.train)
    assert out.user.shape == (120, 8) and out.item.shape == (80, 8)
    assert set(out.modality) == set(out.modality_items) == {'image', 'text'}
    assert out.hidden.shape == (80, 8)
    edge_index, edge_weight = out.item_graph
    assert edge_index.max() < 80 and torch.isfinite(edge_weight).all()
    assert (edge_index[0] != edge_index[1]).all()  # no self-loops


def test_each_modality_propagates_over_its_own_mixed_graph(tiny_splits):
    # H^m = ((1 - λ) Ŝ^m + λ S̃^m) E_item, with Ŝ^m the kNN graph of Z^m (one item layer).
    model = build(tiny_splits)
    out = model.encode(tiny_splits.train)
    ids = model.embedding.weight[120:]
    for m in ('image', 'text'):
        learned = model.modality_graphs.learned_graph(out.modality[m])
        frozen = model.modality_graphs.frozen_graph(tiny_splits.train, m)
        graph = 0.1 * dense(*learned, 80) + 0.9 * dense(*frozen, 80)
        assert torch.allclose(out.modality_items[m], graph @ ids, atol=1e-6)
    # the two graphs differ, and the hook's edge list is theirs side by side
    image, text = (dense(*model.modality_graphs(tiny_splits.train, out.modality)[m], 80)
                   for m in ('image', 'text'))
    assert not torch.allclose(image, text)
    assert torch.allclose(dense(*out.item_graph, 80), image + text, atol=1e-6)


def test_attention_weights_sum_to_one_and_fuse_the_modalities(tiny_splits):
    model = build(tiny_splits)
    out = model.encode(tiny_splits.train)
    reps = torch.stack([out.modality_items['image'], out.modality_items['text']])
    beta = model.attention.weights(reps)
    assert beta.shape == (80, 2) and (beta > 0).all()
    assert torch.allclose(beta.sum(1), torch.ones(80))
    assert beta.std(0).min() > 0  # item-wise, not one weight per modality
    fused = beta[:, :1] * reps[0] + beta[:, 1:] * reps[1]
    assert torch.allclose(out.hidden, fused, atol=1e-6)
    # the final item state is LightGCN's plus the normalised fusion
    twin = LightGCN.from_data(tiny_splits.train, embedding_dim=8)
    twin.load_state_dict(model.state_dict(), strict=False)
    assert torch.allclose(out.item, twin(tiny_splits.train)[1] + F.normalize(fused, dim=1),
                          atol=1e-6)


def test_attention_scores_with_the_shared_query():
    torch.manual_seed(1)
    attention = ModalityAttention(4)
    reps = torch.randn(3, 5, 4)
    lin1, _, lin2 = attention.query
    scores = torch.stack([lin2(torch.tanh(lin1(r))).squeeze(-1) for r in reps], dim=1)
    assert torch.allclose(attention.weights(reps), torch.softmax(scores, dim=1), atol=1e-6)


def test_contrastive_loss_is_lower_for_aligned_than_for_shuffled_pairs(tiny_splits):
    model = build(tiny_splits)
    out = model.encode(tiny_splits.train)
    items = torch.arange(80)
    aligned = model.contrastive_loss(out, items)
    expected = sum(MF.info_nce(hm, out.hidden, 0.5, intra_view=True)
                   for hm in out.modality_items.values())
    assert torch.allclose(aligned, expected)
    torch.manual_seed(0)
    perm = torch.randperm(80)
    shuffled = {m: hm[perm] for m, hm in out.modality_items.items()}
    out.modality_items = shuffled
    assert aligned < model.contrastive_loss(out, items) - 1.0


def test_loss_adds_weighted_contrastive_term_over_batch_items(tiny_splits):
    model = build(tiny_splits, contrastive_weight=0.5)
    user, pos, neg = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 5, 6]), torch.tensor(
        [7, 4, 8, 9])
    losses = model.loss(tiny_splits.train, user, pos, neg)
    out = model.encode(tiny_splits.train)
    items = torch.tensor([4, 5, 6, 7, 8, 9])
    assert torch.allclose(losses['contrastive'], 0.5 * model.contrastive_loss(out, items))
    plain = LightGCN.batch_loss(model, out, user, pos, neg)
    assert torch.allclose(losses['loss'], plain['loss'] + losses['contrastive'])
    # the contrastive term trains the fusion's attention
    losses['contrastive'].backward()
    assert all(p.grad.abs().sum() > 0 for p in model.attention.parameters())
    # capped: a random subset of the batch's items
    model.contrastive_items = 3
    torch.manual_seed(1)
    capped = model.loss(tiny_splits.train, user, pos, neg)['contrastive']
    torch.manual_seed(1)
    subset = batch_items(pos, neg, 3)
    assert subset.numel() == 3 and set(subset.tolist()) <= set(items.tolist())
    assert torch.allclose(capped, 0.5 * model.contrastive_loss(out, subset))


def test_graph_only_dataset_uses_the_given_graphs(graph_only_splits):
    splits = graph_only_splits
    torch.manual_seed(0)
    model = MICRO.from_data(splits.train, embedding_dim=8).eval()
    assert model.encoder is None
    out = model.encode(splits.train)
    ids = model.embedding.weight[60:]
    for m in ('image', 'text'):
        store = splits.train['item', f'knn_{m}', 'item']
        given = dense(store.edge_index, store.edge_weight, 50)
        assert torch.allclose(out.modality_items[m], given @ ids, atol=1e-6)
    assert out.modality == {} and torch.isfinite(out.item).all()
