import contextlib
import json

import numpy as np
import pytest
import torch

import pyg_mmrec
import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib import IBMRec
from pyg_mmrec.nn.models import VBPR
from pyg_mmrec.train import TrainConfig, Trainer, load_model
from pyg_mmrec.utils import batch_items

BATCH = torch.arange(0, 60, 2), torch.arange(30) % 80, (torch.arange(30) * 7 + 3) % 80


def build(splits, backbone, **hparams):
    torch.manual_seed(0)
    extra = {'knn_k': 5} if 'lattice' in backbone else {}
    return IBMRec.from_data(splits.train, backbone=backbone, embedding_dim=8, **extra,
                            **hparams)


@pytest.mark.parametrize('backbone,fib,gib', [('vbpr', True, False),
                                              ('vlightgcn', True, False),
                                              ('lattice', False, True),
                                              ('vlattice', True, True)])
def test_modules_apply_as_in_table_3(tiny_splits, backbone, fib, gib):
    model = build(tiny_splits, backbone)
    assert (model.uses_fib, model.uses_gib) == (fib, gib)
    losses = model.loss(tiny_splits.train, *BATCH)
    assert ('fib' in losses, 'gib' in losses) == (fib, gib)
    assert torch.allclose(losses['loss'], sum(v for k, v in losses.items() if k != 'loss'))
    assert [s.name for s in model.stages()] == (['infonce'] if fib else [])
    assert (model.mask is not None) == gib


@pytest.mark.parametrize('backbone', IBMRec.supported_backbones())
def test_shared_passes_change_neither_loss_nor_gradients(backbone, tiny_splits, monkeypatch):
    # GIB's reference pass reuses what the masked pass computed apart from the item graph:
    # the terms and gradients are those of independent passes (the reference pass of a
    # backbone that shared its masked graph would make the GIB term that of equal inputs).
    model = build(tiny_splits, backbone)
    data = tiny_splits.train

    def step():
        torch.manual_seed(1)
        model.on_epoch_start(0)
        model.zero_grad()
        losses = model.loss(data, *BATCH)
        losses['loss'].backward()
        return ({k: v.detach() for k, v in losses.items()},
                {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})

    step()  # what a backbone keeps from its first forward pass (InvRL's environments)
    shared = step()
    monkeypatch.setattr(model.backbone, 'share_passes', contextlib.nullcontext)
    separate = step()
    for got, expected in zip(shared, separate, strict=True):
        assert got.keys() == expected.keys()
        for key in got:
            assert torch.allclose(got[key], expected[key], rtol=1e-4, atol=1e-7), key


def test_reference_pass_propagates_the_user_item_graph_once(tiny_splits):
    # VLATTICE's reference pass differs from the masked one in the item graph's weights only:
    # the user-item propagation, which reads H, is shared (no hook perturbs H here).
    model = build(tiny_splits, 'vlattice')
    calls = []
    model.backbone.conv.register_forward_hook(lambda *_: calls.append(1))
    model.loss(tiny_splits.train, *BATCH)
    assert len(calls) == 1
    with model.backbone.share_passes():  # under another hook of H, not shared
        model.backbone.encode(tiny_splits.train)
        with model.backbone.perturb_hidden(lambda h: h + 1):
            model.backbone.encode(tiny_splits.train)
    assert len(calls) == 3


def test_second_stage_switch_keeps_the_hsic_term_alone(tiny_splits):
    both, hsic_only = build(tiny_splits, 'vbpr'), build(tiny_splits, 'vbpr', second_stage=False)
    assert hsic_only.stages() == [] and [s.name for s in both.stages()] == ['infonce']
    assert torch.equal(hsic_only.loss(tiny_splits.train, *BATCH)['fib'],
                       both.loss(tiny_splits.train, *BATCH)['fib'])


@pytest.mark.parametrize('backbone', ['vbpr', 'lattice', 'vlattice'])
def test_without_any_ib_is_exactly_the_backbone(tiny_splits, backbone):
    model = build(tiny_splits, backbone, fib=False, gib=False)
    assert model.stages() == [] and set(model.parameters()) == set(model.backbone.parameters())
    ours, theirs = model.loss(tiny_splits.train, *BATCH), model.backbone.loss(tiny_splits.train,
                                                                              *BATCH)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    model.eval()
    for a, b in zip(model(tiny_splits.train), model.backbone(tiny_splits.train), strict=True):
        assert torch.equal(a, b)


def test_without_any_ib_trains_exactly_like_the_bare_backbone(tiny_splits):
    config = {'embedding_dim': 8, 'knn_k': 5, 'epochs': 2, 'batch_size': 512,
              'progress': False}
    bare = pyg_mmrec.run('vlattice', tiny_splits, config)
    off = pyg_mmrec.run('ibmrec', tiny_splits,
                        {**config, 'backbone': 'vlattice', 'fib': False, 'gib': False})
    assert off['valid'] == bare['valid'] and off['test'] == bare['test']


def test_fib_term_is_weighted_hsic_of_projections_and_features(tiny_splits):
    model = build(tiny_splits, 'vbpr', alpha=2.0)
    losses = model.loss(tiny_splits.train, *BATCH)
    out = model.backbone.encode(tiny_splits.train)
    items = torch.cat([BATCH[1], BATCH[2]]).unique()
    expected = 2.0 * sum(MF.hsic(out.modality[m][items], tiny_splits.train['item'][f'x_{m}'][items])
                         for m in ('image', 'text'))
    assert torch.allclose(losses['fib'], expected)
    bare = model.backbone.loss(tiny_splits.train, *BATCH)
    assert torch.allclose(losses['loss'], bare['loss'] + expected)
    fixed = build(tiny_splits, 'vbpr', sigma2=0.2, hsic_normalize=True)
    expected = sum(MF.hsic(out.modality[m][items], tiny_splits.train['item'][f'x_{m}'][items],
                           0.2, True) for m in ('image', 'text'))
    assert torch.allclose(fixed.loss(tiny_splits.train, *BATCH)['fib'], expected)


def test_gib_term_compares_masked_and_original_graph_reps(tiny_splits):
    model = build(tiny_splits, 'vlattice', fib=False, beta=3.0).train()
    torch.manual_seed(5)
    losses = model.loss(tiny_splits.train, *BATCH)
    torch.manual_seed(5)
    masked = model.encode(tiny_splits.train).item
    clean = model.backbone.encode(tiny_splits.train).item
    items = torch.cat([BATCH[1], BATCH[2]]).unique()
    assert not torch.allclose(masked, clean)
    assert torch.allclose(losses['gib'], 3.0 * MF.hsic(masked[items], clean[items]))
    losses['gib'].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.mask.parameters())


def test_scores_use_the_masked_graph_deterministically_at_evaluation(tiny_splits):
    model = build(tiny_splits, 'lattice').eval()
    user, item = model(tiny_splits.train)
    again = model(tiny_splits.train)
    assert torch.equal(item, again[1]) and torch.equal(user, again[0])
    out = model.encode(tiny_splits.train)
    edge_index, weight = model.backbone.encode(tiny_splits.train).item_graph
    ids = model.backbone.embedding.weight[120:]
    states = torch.cat([sum(out.modality.values()), ids], dim=1)
    keep = model.mask.edge_logits(states, edge_index).sigmoid()  # expected mask
    assert torch.allclose(out.item_graph[1], weight * keep, atol=1e-6)
    assert not torch.allclose(item, model.backbone(tiny_splits.train)[1])


def test_second_stage_moves_only_user_multimedia_embeddings_and_projections(tiny_splits):
    model = build(tiny_splits, 'vlattice')
    trainer = Trainer(model, tiny_splits, TrainConfig(batch_size=10**6, progress=False))
    stage = trainer.stages[0]
    snapshot = {}
    real = stage.loss

    def spy(*args):
        snapshot.update({k: v.clone() for k, v in model.state_dict().items()})
        return real(*args)

    stage.loss = spy
    record = trainer.train_epoch()
    assert len(trainer.loader) == 1 and {'fib', 'gib', 'infonce'} <= set(record)
    after = model.state_dict()
    user = 'backbone.user_emb.weight'
    assert torch.equal(after[user][:, :8], snapshot[user][:, :8])  # P: untouched
    assert not torch.equal(after[user][:, 8:], snapshot[user][:, 8:])  # C
    for k in after:
        moved = not torch.equal(after[k], snapshot[k])
        assert moved == (k == user or k.startswith('backbone.encoder.')), k


def test_second_stage_treats_the_sampled_mask_as_a_constant(tiny_splits):
    model = build(tiny_splits, 'vlattice').train()
    params = list(model.mask.parameters())
    main = model.loss(tiny_splits.train, *BATCH)['loss']
    assert all(g is not None for g in torch.autograd.grad(main, params, allow_unused=True))
    second = model.contrastive_loss(tiny_splits.train, *BATCH)
    assert second.requires_grad  # through the propagation, not through the mask
    assert all(g is None for g in torch.autograd.grad(second, params, allow_unused=True))


def test_unsupported_backbone_and_bad_values_are_refused():
    with pytest.raises(ConfigError, match=r"'lightgcn' lacks \(modality, multimedia\) or "
                                          r"\(item_graph\)"):
        IBMRec.hparam_defaults({'backbone': 'lightgcn'})
    backbone = VBPR(10, 12, {'image': 4})
    for bad in ({'alpha': -1.0}, {'tau': 0.0}, {'sigma2': 'wide'}, {'hsic_items': 1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            IBMRec(backbone, **bad)


def test_cli_and_checkpoint_round_trip(tiny_splits, tmp_path):
    from pyg_mmrec.cli import main
    folder = tmp_path / 'toy'
    folder.mkdir()
    rows = ['userID\titemID\tx_label']
    for label, view in enumerate(tiny_splits):
        rows += [f'{u}\t{i}\t{label}'
                 for u, i in view['user', 'interacts', 'item'].edge_label_index.t().tolist()]
    (folder / 'toy.inter').write_text('\n'.join(rows) + '\n')
    np.save(folder / 'image_feat.npy', tiny_splits.train['item'].x_image.numpy())
    out = tmp_path / 'run'
    assert main(['train', '--model', 'ibmrec', '--data', str(folder), '--out', str(out),
                 '--set', 'backbone=vlattice', 'alpha=0.5', 'beta=2.0', 'epochs=1',
                 'embedding_dim=8', 'knn_k=5', 'progress=false']) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['config']['backbone'] == 'vlattice' and results['config']['beta'] == 2.0
    splits = pyg_mmrec.data.load_dataset(folder)
    model, ckpt = load_model(out / 'checkpoint.pt', splits)
    assert isinstance(model, IBMRec) and model.alpha == 0.5 and model.uses_gib
    assert len(ckpt['stage_optimizers']) == 1


def test_batch_items_are_distinct_batch_items_capped_at_random():
    pos, neg = torch.tensor([3, 5, 3, 9]), torch.tensor([5, 7, 11, 2])
    assert batch_items(pos, neg, 10).tolist() == [2, 3, 5, 7, 9, 11]
    torch.manual_seed(0)
    capped = batch_items(pos, neg, 4)
    assert capped.numel() == 4 and set(capped.tolist()) <= {2, 3, 5, 7, 9, 11}
    assert len(set(capped.tolist())) == 4


@pytest.mark.parametrize('backbone', IBMRec.supported_backbones())
def test_modules_apply_wherever_the_backbone_has_their_capabilities(tiny_splits, backbone):
    from pyg_mmrec.ib.ibmrec import FIB_NEEDS, GIB_NEEDS
    model = build(tiny_splits, backbone)
    capabilities = model.backbone.capabilities
    assert (model.uses_fib, model.uses_gib) == (FIB_NEEDS <= capabilities,
                                                GIB_NEEDS <= capabilities)
    losses = model.loss(tiny_splits.train, *BATCH)
    assert ('fib' in losses, 'gib' in losses) == (model.uses_fib, model.uses_gib)
    assert all(torch.isfinite(v) for v in losses.values())
    losses['loss'].backward()
    if model.uses_gib:  # the mask learns from the masked graph
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in model.mask.parameters())


def test_gib_runs_on_freedom(tiny_splits):
    assert 'freedom' in IBMRec.supported_backbones()
    model = build(tiny_splits, 'freedom', knn_k=5)
    assert model.uses_gib and not model.uses_fib
    model.eval()
    out = model.encode(tiny_splits.train)
    bare = model.backbone.encode(tiny_splits.train)
    assert torch.equal(out.item_graph[0], bare.item_graph[0])  # same edges, masked weights
    assert (out.item_graph[1] <= bare.item_graph[1] + 1e-7).all()
    assert not torch.allclose(out.item, bare.item)
