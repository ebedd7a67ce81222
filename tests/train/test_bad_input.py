"""Bad settings, non-finite training, dishonest resumes and corrupted checkpoints end in the
library's own one-line errors."""
import json

import pytest
import torch

from pyg_mmrec.errors import CheckpointError, ConfigError, TrainingError
from pyg_mmrec.train import load_checkpoint, load_model, resolve, run
from pyg_mmrec.train.checkpoint import save_checkpoint

FAST = {'progress': False, 'batch_size': 256, 'lr': 0.01, 'embedding_dim': 8}


@pytest.mark.parametrize('model, config, match', [
    ('lightgcn', {'lr': None}, r"'lr' must be a number in \(0, 10\], got null"),
    ('lightgcn', {'lr': float('inf')}, r"'lr' expects a number .* got inf"),
    ('lightgcn', {'lr': 1e30}, r"'lr' must be a number in \(0, 10\], got 1e\+30"),
    ('lightgcn', {'seed': None}, "'seed' must be an integer"),
    ('lightgcn', {'seed': 2**70}, "'seed' must be an integer in"),
    ('lightgcn', {'metric': None}, "'metric' .* got null"),
    ('lightgcn', {'embedding_dim': 0}, r"'embedding_dim' must be an integer in \[1, 65536\]"),
    ('lightgcn', {'embedding_dim': -5}, "'embedding_dim'"),
    ('lightgcn', {'embedding_dim': None}, "'embedding_dim' .* got null"),
    ('lightgcn', {'num_layers': -1}, r"'num_layers' must be an integer in \[0, 1024\], got -1"),
    ('bm3', {'dropout': 1.5}, r"'dropout' must be a number in \[0, 1\), got 1.5"),
    ('grcn', {'latent_dim': 0}, "'latent_dim'"),
    ('lightgcn', {'ks': [1e8]}, "'ks' must be a non-empty list of integers"),
    ('lightgcn', {'ks': []}, "'ks' expects a non-empty list"),
    ('lightgcn', {'weight_decay': -1.0}, "'weight_decay' must be a number >= 0"),
    ('lattice', {'lambda_coeff': 2.0}, r"'lambda_coeff' must be a number in \[0, 1\]"),
    ('dvib', {'backbone': 'lightgcn', 'variant': 'x'}, "'variant' must be one of"),
    ('ibmrec', {'sigma2': -1}, "'sigma2' must be a number > 0 or null"),
    ('lightgcn', {'progress': 'yes'}, "'progress' expects a boolean"),
])
def test_every_setting_is_validated_from_its_declaration(model, config, match):
    with pytest.raises(ConfigError, match=match) as info:
        resolve(model, config)
    assert '\n' not in str(info.value)


def test_declarations_cover_every_hyper_parameter():
    from pyg_mmrec.registry import MODELS
    for name, cls in MODELS.items():
        defaults = cls.hparam_defaults()
        specs = cls.hparam_specs()
        # every hyper-parameter with a plain-typed default is declared; IBMRec's sigma2
        # (default None) through its '| None' annotation
        assert set(defaults) == set(specs), name
        for key, param in specs.items():
            assert param.default == defaults[key]


def test_constructor_validates_its_declared_arguments():
    from pyg_mmrec.nn.models import LightGCN
    with pytest.raises(ConfigError, match="'embedding_dim' must be an integer"):
        LightGCN(3, 4, embedding_dim=0)
    assert LightGCN(3, 4, reg_weight=0).reg_weight == 0  # an int for a float is accepted


def test_ks_beyond_the_catalogue_is_refused(tiny_splits):
    with pytest.raises(ConfigError, match="'ks'.*may exceed the"):
        run('bprmf', tiny_splits, {**FAST, 'ks': [10, 1000], 'metric': 'Recall@10'})


def test_non_finite_loss_stops_with_epoch_batch_and_term(tiny_splits, tmp_path):
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    before = (tmp_path / 'checkpoint.pt').read_bytes()
    spec = resolve('bprmf', {**FAST, 'epochs': 2})
    from pyg_mmrec.train import Trainer
    model = spec.build(tiny_splits.train)
    with torch.no_grad():
        model.user_emb.weight[0] = float('nan')
    trainer = Trainer(model, tiny_splits, spec.train, tmp_path / 'other')
    with pytest.raises(TrainingError, match=r"epoch 0, batch 0: the loss term 'loss' \(nan\)"):
        trainer.fit()
    with pytest.raises(TrainingError, match="the gradient of 'loss' for parameter"):
        trainer._check_gradients(3, 'loss', _inf_grad())
    assert (tmp_path / 'checkpoint.pt').read_bytes() == before


def _inf_grad():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.tensor([1.0, float('inf')])
    return [('w', p)]


def test_resume_refuses_changed_settings_and_other_models(tiny_splits, tmp_path):
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"differ \(checkpoint, requested\): \{'lr': "
                                          r"\(0.01, 0.5\), 'seed': \(2024, 7\)\}"):
        run('bprmf', tiny_splits, {**FAST, 'epochs': 2, 'lr': 0.5, 'seed': 7},
            out_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="holds a 'bprmf' run, not a 'lightgcn' one"):
        run('lightgcn', tiny_splits, {**FAST, 'epochs': 2}, out_dir=tmp_path, resume=True)
    # more epochs is allowed, and recorded truthfully
    results = run('bprmf', tiny_splits, {**FAST, 'epochs': 2}, out_dir=tmp_path, resume=True)
    assert results['epochs_run'] == 2 and results['config']['epochs'] == 2
    assert json.loads((tmp_path / 'results.json').read_text())['config']['lr'] == 0.01


def test_corrupted_or_crafted_checkpoints_are_refused(tiny_splits, tmp_path):
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    path = tmp_path / 'checkpoint.pt'
    raw = bytearray(path.read_bytes())
    ckpt = load_checkpoint(path)
    # flip bytes inside a weight tensor's storage: the file still unpickles, the digest fails
    weight = ckpt['best_state']['user_emb.weight'].numpy().tobytes()
    inner = raw.find(weight[:64])
    assert inner > 0
    raw[inner:inner + 64] = bytes(b ^ 0xFF for b in raw[inner:inner + 64])
    bad = tmp_path / 'flipped.pt'
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match='corrupted'):
        load_checkpoint(bad)
    # NaN weights, missing keys, mismatched shapes
    nan = {**ckpt, 'best_state': {k: torch.full_like(v, float('nan'))
                                  for k, v in ckpt['best_state'].items()}}
    save_checkpoint(tmp_path / 'nan.pt', nan)
    with pytest.raises(CheckpointError, match="'best_state' weight .* NaN or inf"):
        load_model(tmp_path / 'nan.pt', tiny_splits)
    save_checkpoint(tmp_path / 'partial.pt', {k: v for k, v in ckpt.items() if k != 'hparams'})
    with pytest.raises(CheckpointError, match=r"missing \['hparams'\]"):
        load_model(tmp_path / 'partial.pt', tiny_splits)
    wrong = {**ckpt, 'hparams': {**ckpt['hparams'], 'embedding_dim': 4}}
    save_checkpoint(tmp_path / 'wrong.pt', wrong)
    with pytest.raises(CheckpointError, match='does not fit BPRMF'):
        load_model(tmp_path / 'wrong.pt', tiny_splits)


def test_stale_temporary_files_are_removed(tiny_splits, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / '.checkpoint.pt.abc123.tmp'
    stale.write_bytes(b'half a write')
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    assert not stale.exists()


def test_lattice_degenerate_graph_inputs():
    from pyg_mmrec.data import make_synthetic
    from pyg_mmrec.errors import DataError
    small = {**FAST, 'epochs': 2, 'ks': [5], 'metric': 'Recall@5'}

    def splits():
        return make_synthetic(num_users=30, num_items=20, mean_interactions=6,
                              modalities={'image': (4, 2, 2)})
    with pytest.raises(ConfigError, match=r"'knn_k' = 19: LATTICE needs fewer neighbours "
                                          r"than items - 1 \(19"):
        run('lattice', splits(), {**small, 'knn_k': 19})
    # many neighbours (negative similarities) and zero rows used to give NaN: now finite
    assert run('lattice', splits(), {**small, 'knn_k': 18})['valid']['Recall@5'] >= 0
    data = splits()
    for view in data:
        view['item'].x_image[:5] = 0
    assert run('lattice', data, small)['valid']['Recall@5'] >= 0
    for view in data:
        view['item'].x_image[:] = 0
    with pytest.raises(DataError, match="modality 'image' are all zero"):
        run('lattice', data, small)


def test_safe_sym_norm_matches_gcn_norm_where_degrees_are_positive():
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from pyg_mmrec.nn.modality_item_graphs import safe_sym_norm
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    weight = torch.rand(6, generator=torch.Generator().manual_seed(0)) + 0.1
    assert torch.equal(safe_sym_norm(edge_index, weight, 4),
                       gcn_norm(edge_index, weight, 4, add_self_loops=False)[1])
    weight = torch.tensor([1.0, 1.0, -3.0, -3.0, 0.0, 0.0], requires_grad=True)
    out = safe_sym_norm(edge_index, weight, 4)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(weight.grad).all()


def test_deterministic_setting_is_bitwise_and_restores_threads(tiny_splits, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for name in ('a', 'b'):
            run('lightgcn', tiny_splits, {**FAST, 'epochs': 2, 'deterministic': True},
                out_dir=tmp_path / name)
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    a = load_checkpoint(tmp_path / 'a' / 'checkpoint.pt')['last_state']
    b = load_checkpoint(tmp_path / 'b' / 'checkpoint.pt')['last_state']
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_typos_in_model_and_backbone_names_suggest_the_name():
    with pytest.raises(ConfigError, match=r"unknown model 'lightgnc' \(did you mean "
                                          r"'lightgcn'\?\)"):
        resolve('lightgnc')
    with pytest.raises(ConfigError, match=r"unknown backbone 'vbrp' \(did you mean 'vbpr'\?\)"):
        resolve('dvib', {'backbone': 'vbrp'})


def test_resume_continues_with_the_checkpoint_settings(tiny_splits, tmp_path):
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1, 'reg_weight': 0.5}, out_dir=tmp_path)
    results = run('bprmf', tiny_splits, {'epochs': 2, 'progress': False}, out_dir=tmp_path,
                  resume=True)  # the other settings come from the checkpoint
    assert results['config']['reg_weight'] == 0.5 and results['config']['lr'] == 0.01
    assert results['epochs_run'] == 2
