import copy

import pytest
import torch

from pyg_mmrec import registry
from pyg_mmrec.data import TripletLoader
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.ib import SGFD, interaction_categories
from pyg_mmrec.ib.sgfd import teacher_widths
from pyg_mmrec.train import evaluate, load_model, run
from pyg_mmrec.train.evaluation import scorer

BATCH = torch.tensor([0, 1, 2, 3, 7]), torch.tensor([4, 5, 6, 7, 8]), torch.tensor([9, 10, 11,
                                                                                  12, 4])
SGFD_TERMS = ('sgfd_ce', 'sgfd_mf', 'sgfd_ld', 'sgfd_fd')


def grads(modules):
    return [p.grad for m in modules for p in m.parameters()]


def reached(gs):
    return any(g is not None and bool(g.abs().sum() > 0) for g in gs)


@pytest.mark.parametrize('name', SGFD.supported_backbones())
def test_on_every_backbone_with_modality_representations(name, tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGFD.from_data(data, backbone=name, embedding_dim=16)
    losses = model.loss(data, *BATCH)
    assert all(torch.isfinite(v) for v in losses.values())
    assert torch.allclose(losses['loss'], sum(v for k, v in losses.items() if k != 'loss'))
    assert all(losses[k] > 0 for k in SGFD_TERMS)
    losses['loss'].backward()
    assert reached(grads([*model.teacher.values(), *model.classifier.values(), model.fusion]))
    # Inference is the backbone's: same weights give the same scores.
    bare = registry.get_model_class(name).from_data(data, embedding_dim=16)
    bare.load_state_dict(model.backbone.state_dict())
    users = torch.arange(tiny_splits.num_users)
    assert torch.equal(scorer(model, tiny_splits)(users), scorer(bare, tiny_splits)(users))


def train(model, data, num_items, epochs=8):
    """Trains ``model`` with Adam; returns the summed loss terms of each epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(data['user', 'interacts', 'item'].edge_index, num_items,
                           batch_size=256, seed=0)
    history = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        total = {}
        for batch in loader:
            losses = model.loss(data, *batch)
            assert all(torch.isfinite(v) for v in losses.values())
            optimizer.zero_grad()
            losses['loss'].backward()
            optimizer.step()
            for k, v in losses.items():
                total[k] = total.get(k, 0.0) + v.item()
        history.append(total)
    return history


def test_loss_finite_and_decreasing(tiny_splits):
    torch.manual_seed(0)
    model = SGFD.from_data(tiny_splits.train, embedding_dim=16)
    history = train(model, tiny_splits.train, tiny_splits.num_items)
    assert history[-1]['loss'] < 0.9 * history[0]['loss']
    assert history[-1]['sgfd_ce'] < 0.8 * history[0]['sgfd_ce']  # the teacher learns


def test_distillation_brings_the_student_to_the_teacher(tiny_splits):
    data = tiny_splits.train
    items = torch.arange(tiny_splits.num_items)
    gaps = {}
    for kd_weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = SGFD.from_data(data, embedding_dim=16, kd_weight=kd_weight)
        train(model, data, tiny_splits.num_items)
        with torch.no_grad():
            gaps[kd_weight] = model.sgfd_terms(data, model.encode(data).modality, items)
    assert gaps[1.0]['fd'] < 0.8 * gaps[0.0]['fd']
    assert gaps[1.0]['ld'] < 0.8 * gaps[0.0]['ld']
    # The distillation does not reach the teacher: it trains exactly as without it.
    assert torch.equal(gaps[1.0]['ce'], gaps[0.0]['ce'])
    assert torch.equal(gaps[1.0]['mf'], gaps[0.0]['mf'])


def test_reset_parameters_is_reproducible(tiny_splits):
    model = SGFD.from_data(tiny_splits.train)
    torch.manual_seed(3)
    model.reset_parameters()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(4)
    model.reset_parameters()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(first[k], v)}
    assert any(k.startswith('teacher.') for k in changed)
    assert any(k.startswith('backbone.') for k in changed)
    torch.manual_seed(3)
    model.reset_parameters()
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())


def test_terms_match_an_independent_computation(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGFD.from_data(data, temperature=3.0, embedding_dim=16)
    out = model.encode(data)
    items = torch.cat(BATCH[1:]).unique()
    got = model.sgfd_terms(data, out.modality, items)
    labels = model.categories(data)[items]
    ce, ld, fd, teachers = [], [], [], []
    for m in ('image', 'text'):
        t = model.teacher[m](data['item'][f'x_{m}'][items])
        t = t / t.norm(dim=1, keepdim=True)
        w, b = model.classifier[m].weight, model.classifier[m].bias
        z = out.modality[m][items]
        z = z / z.norm(dim=1, keepdim=True)
        log_pt = (t @ w.t() + b).log_softmax(-1)
        ce.append(-log_pt[torch.arange(len(items)), labels].mean())
        soft_t, soft_s = ((t @ w.t() + b) / 3.0).softmax(-1), ((z @ w.t() + b) / 3.0).softmax(-1)
        ld.append(9.0 * (soft_t * (soft_t.log() - soft_s.log())).sum(-1).mean())
        fd.append((z - t).pow(2).mean())
        teachers.append(t)
    fused = model.fusion(torch.cat(teachers, dim=1))
    mf = -fused.log_softmax(-1)[torch.arange(len(items)), labels].mean()
    for key, value in {'ce': sum(ce) / 2, 'mf': mf, 'ld': sum(ld) / 2, 'fd': sum(fd) / 2}.items():
        assert got[key].item() == pytest.approx(value.item(), rel=1e-4)
    # The weighted terms of the loss are these, on the batch's distinct items.
    losses = model.loss(data, *BATCH)
    for key, weight in (('ce', model.ce_weight), ('ld', model.kd_weight)):
        assert losses[f'sgfd_{key}'].item() == pytest.approx(weight * got[key].item(), rel=1e-5)


def test_distillation_moves_only_the_student_and_semantics_only_the_teacher(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGFD.from_data(data, embedding_dim=16)
    teacher = [*model.teacher.values(), *model.classifier.values(), model.fusion]
    losses = model.loss(data, *BATCH)
    (losses['sgfd_ld'] + losses['sgfd_fd']).backward(retain_graph=True)
    assert not reached(grads(teacher))
    assert reached(grads([model.backbone.encoder]))  # VBPR's projections: the student
    model.zero_grad(set_to_none=True)
    (losses['sgfd_ce'] + losses['sgfd_mf']).backward()
    assert reached(grads(teacher))
    assert not reached(grads([model.backbone]))


def test_distillation_is_zero_when_the_student_equals_the_teacher(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = SGFD.from_data(data, embedding_dim=16)
    items = torch.cat(BATCH[1:]).unique()
    # With features of 64 and 48 columns and Z of 16, each teacher is one linear layer, so it
    # can be made the student's copy.
    for m, teacher in model.teacher.items():
        assert teacher_widths(*model.channels[m]) == list(model.channels[m])
        teacher.lins[0].load_state_dict(model.backbone.encoder.proj[m].state_dict())
    terms = model.sgfd_terms(data, model.encode(data).modality, items)
    assert terms['ld'].item() == pytest.approx(0.0, abs=1e-6)
    assert terms['fd'].item() == pytest.approx(0.0, abs=1e-12)
    assert terms['ce'] > 0 and terms['mf'] > 0


def test_teacher_widths_follow_the_authors_rule():
    assert teacher_widths(4096, 64) == [4096, 1024, 256, 64]
    assert teacher_widths(384, 64) == [384, 96, 64]
    assert teacher_widths(256, 64) == [256, 64]
    assert teacher_widths(128, 64) == [128, 64]


def test_interaction_categories_recover_planted_groups():
    # Four groups of 10 users and 8 items; each user interacts with 5 items of its group.
    gen = torch.Generator().manual_seed(0)
    edges = []
    for u in range(40):
        group = u // 10
        for i in torch.randperm(8, generator=gen)[:5]:
            edges.append((u, group * 8 + int(i)))
    edge_index = torch.tensor(edges).t()
    state = torch.random.get_rng_state()
    got = interaction_categories(edge_index, 40, 32, 4)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    assert got.shape == (32,) and got.dtype == torch.long
    groups = got.view(4, 8)
    assert all(len(row.unique()) == 1 for row in groups)  # one category per group...
    assert len(groups[:, 0].unique()) == 4  # ...and a different one for each
    assert torch.equal(got, interaction_categories(edge_index, 40, 32, 4))


def test_categories_are_pseudo_by_default_and_the_datasets_own_when_given(tiny_splits):
    data = tiny_splits.train
    model = SGFD.from_data(data, num_categories=7)
    assert model.data_categories is None and model.classifier['image'].out_features == 7
    pseudo = model.categories(data)
    assert pseudo.shape == (tiny_splits.num_items,) and int(pseudo.max()) < 7
    assert model.categories(data) is pseudo  # cached for the training graph
    labelled = copy.copy(data)
    labelled['item'].y = torch.arange(tiny_splits.num_items) % 5
    model = SGFD.from_data(labelled, num_categories=7)
    assert model.data_categories == 5 and model.fusion.lins[-1].out_channels == 5
    assert torch.equal(model.categories(labelled), labelled['item'].y)
    labelled['item'].y = labelled['item'].y.float()
    with pytest.raises(DataError, match=r"data\['item'\].y"):
        SGFD.from_data(labelled)


def test_bad_configs_and_data_are_refused(tiny_splits, graph_only_splits):
    data = tiny_splits.train
    with pytest.raises(ConfigError, match='kd_weight'):
        SGFD.from_data(data, kd_weight=-1.0)
    with pytest.raises(ConfigError, match='temperature'):
        SGFD.from_data(data, temperature=0.0)
    with pytest.raises(ConfigError, match='num_categories'):
        SGFD.from_data(data, num_categories=1)
    with pytest.raises(ConfigError, match='fewer pseudo-categories than items'):
        SGFD.from_data(data, num_categories=tiny_splits.num_items)
    with pytest.raises(ConfigError, match=r"'lightgcn' lacks \(modality\)"):
        SGFD.from_data(data, backbone='lightgcn')
    with pytest.raises(ConfigError, match='from_data'):
        SGFD(registry.get_model_class('vbpr')(5, 5, {'image': 4}))
    with pytest.raises(DataError, match='computes no modality representation'):
        SGFD.from_data(graph_only_splits.train, backbone='lattice')


def test_trains_and_checkpoint_round_trip(tiny_splits, tmp_path):
    config = {'embedding_dim': 16, 'epochs': 3, 'progress': False, 'lr': 0.01}
    results = run('sgfd', tiny_splits, config, out_dir=tmp_path)
    assert results['config']['backbone'] == 'vbpr' and results['config']['temperature'] == 100.0
    model, ckpt = load_model(tmp_path / 'checkpoint.pt', tiny_splits)
    assert isinstance(model, SGFD) and model.channels == {'image': (64, 16), 'text': (48, 16)}
    assert all(torch.equal(v, ckpt['best_state'][k]) for k, v in model.state_dict().items())
    assert evaluate(model, tiny_splits, 'test') == pytest.approx(results['test'])


def test_same_backbone_weights_as_the_bare_run(tiny_splits):
    torch.manual_seed(5)
    model = SGFD.from_data(tiny_splits.train, embedding_dim=16)
    torch.manual_seed(5)
    bare = registry.get_model_class('vbpr').from_data(tiny_splits.train, embedding_dim=16)
    assert all(torch.equal(v, bare.state_dict()[k])
               for k, v in model.backbone.state_dict().items())


def test_without_its_weights_the_loss_is_the_backbones(tiny_splits):
    torch.manual_seed(0)
    model = SGFD.from_data(tiny_splits.train, ce_weight=0.0, kd_weight=0.0)
    losses = model.loss(tiny_splits.train, *BATCH)
    theirs = model.backbone.loss(tiny_splits.train, *BATCH)
    assert torch.equal(losses['loss'], theirs['loss'])
    assert all(losses[k] == 0 for k in SGFD_TERMS)
