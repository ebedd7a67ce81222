import json

import pytest
import torch

import pyg_mmrec.functional as MF
import pyg_mmrec.train.trainer as trainer_module
from pyg_mmrec.errors import CheckpointError, ConfigError
from pyg_mmrec.nn.models import VBPR, LightGCN, Stage
from pyg_mmrec.train import TrainConfig, Trainer, load_checkpoint, load_model, make_trainer, run

FAST = {'progress': False, 'batch_size': 256, 'lr': 0.01, 'embedding_dim': 16}


def test_run_is_deterministic(tiny_splits, tmp_path):
    a = run('lightgcn', tiny_splits, {**FAST, 'epochs': 4}, out_dir=tmp_path / 'a')
    b = run('lightgcn', tiny_splits, {**FAST, 'epochs': 4}, out_dir=tmp_path / 'b')
    assert a['valid'] == b['valid'] and a['test'] == b['test']
    sa = load_checkpoint(tmp_path / 'a' / 'checkpoint.pt')['best_state']
    sb = load_checkpoint(tmp_path / 'b' / 'checkpoint.pt')['best_state']
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = run('lightgcn', tiny_splits, {**FAST, 'epochs': 4, 'seed': 1})
    assert c['valid'] != a['valid']


def test_make_trainer_builds_what_run_trains(tiny_splits):
    config = {**FAST, 'epochs': 3}
    trainer = make_trainer('lightgcn', tiny_splits, config)
    assert trainer.config.epochs == 3 and trainer.model.embedding_dim == 16
    by_hand = []
    for epoch in range(3):  # what fit does, without validation (the last epoch is the best)
        trainer.epoch = epoch
        by_hand.append(trainer.train_epoch()['loss'])
    ran = run('lightgcn', tiny_splits, config)
    assert ran['best_epoch'] == 2 and trainer.evaluate('val') == ran['valid']
    assert by_hand[-1] < by_hand[0]


def test_early_stopping_selects_best_validation_epoch_and_tests_once(tiny_splits, tmp_path,
                                                                     monkeypatch):
    calls = []
    real_evaluate = trainer_module.evaluate

    def spy(model, splits, split, *args, **kwargs):
        calls.append(split)
        return real_evaluate(model, splits, split, *args, **kwargs)

    monkeypatch.setattr(trainer_module, 'evaluate', spy)
    results = run('bprmf', tiny_splits, {**FAST, 'lr': 0.05, 'epochs': 200, 'patience': 3},
                  out_dir=tmp_path)
    assert calls.count('test') == 1 and calls[-1] == 'test'
    assert set(calls[:-1]) == {'val'}
    log = [json.loads(line) for line in (tmp_path / 'log.jsonl').read_text().splitlines()]
    recalls = [r['valid']['Recall@20'] for r in log]
    assert results['epochs_run'] == len(log) < 200  # stopped early
    best = max(range(len(recalls)), key=lambda i: (recalls[i], -i))
    assert results['best_epoch'] == best
    assert results['valid']['Recall@20'] == recalls[best]
    assert len(log) == best + 1 + 3  # patience epochs after the best one


def test_min_epochs_holds_off_early_stopping(tiny_splits, tmp_path):
    config = {**FAST, 'lr': 0.05, 'epochs': 200, 'patience': 3}
    early = run('bprmf', tiny_splits, config, out_dir=tmp_path / 'early')
    held = early['epochs_run'] + 10
    late = run('bprmf', tiny_splits, {**config, 'min_epochs': held}, out_dir=tmp_path / 'late')
    logs = [[json.loads(line) for line in (tmp_path / d / 'log.jsonl').read_text().splitlines()]
            for d in ('early', 'late')]
    # the same training, run on: it stops at the first epoch past both bounds
    assert [r['loss'] for r in logs[1][:len(logs[0])]] == [r['loss'] for r in logs[0]]
    assert late['epochs_run'] == max(held, late['best_epoch'] + 1 + 3) < 200
    with pytest.raises(ConfigError, match="'min_epochs'"):
        run('bprmf', tiny_splits, {**config, 'min_epochs': -1})


def test_results_and_checkpoint_contents(tiny_splits, tmp_path):
    results = run('lightgcn', tiny_splits, {**FAST, 'epochs': 2}, out_dir=tmp_path)
    on_disk = json.loads((tmp_path / 'results.json').read_text())
    assert on_disk == json.loads(json.dumps(results))
    for key in ('model', 'data', 'config', 'seed', 'best_epoch', 'valid', 'test',
                'train_seconds_per_epoch', 'eval_seconds', 'peak_rss_mb'):
        assert key in on_disk
    assert 'Recall@20' in on_disk['test'] and 'NDCG@50' in on_disk['valid']
    assert on_disk['config']['embedding_dim'] == 16
    model, ckpt = load_model(tmp_path / 'checkpoint.pt', tiny_splits)
    assert isinstance(model, LightGCN) and ckpt['test'] == results['test']
    assert not list(tmp_path.glob('.*.tmp'))  # no leftovers of atomic writes


def test_resume_equals_uninterrupted_run(tiny_splits, tmp_path):
    config = {**FAST, 'patience': 100}
    full = run('lightgcn', tiny_splits, {**config, 'epochs': 6}, out_dir=tmp_path / 'full')
    run('lightgcn', tiny_splits, {**config, 'epochs': 3}, out_dir=tmp_path / 'part')
    resumed = run('lightgcn', tiny_splits, {**config, 'epochs': 6}, out_dir=tmp_path / 'part',
                  resume=True)
    assert resumed['valid'] == full['valid'] and resumed['test'] == full['test']
    assert resumed['epochs_run'] == 6
    a = load_checkpoint(tmp_path / 'full' / 'checkpoint.pt')['last_state']
    b = load_checkpoint(tmp_path / 'part' / 'checkpoint.pt')['last_state']
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = (tmp_path / 'part' / 'log.jsonl').read_text().splitlines()
    assert [json.loads(line)['epoch'] for line in log] == list(range(6))


def test_resume_refuses_other_data(tiny_splits, tmp_path):
    from pyg_mmrec.data import make_synthetic
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    other = make_synthetic(num_users=50, num_items=40, seed=1)
    with pytest.raises(CheckpointError, match='trained on'):
        run('bprmf', other, {**FAST, 'epochs': 2}, out_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match='trained on'):
        load_model(tmp_path / 'checkpoint.pt', other)


class _Payload:
    def __reduce__(self):
        return (open, ('/tmp/pyg_mmrec_pwned', 'w'))


def test_loading_never_executes_code(tmp_path):
    path = tmp_path / 'evil.pt'
    torch.save({'format': 'pyg_mmrec-checkpoint-v1', 'x': _Payload()}, path)
    with pytest.raises(CheckpointError, match='not a loadable'):
        load_checkpoint(path)
    import os
    assert not os.path.exists('/tmp/pyg_mmrec_pwned')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / 'junk.pt')
    with pytest.raises(CheckpointError, match='not found'):
        load_checkpoint(tmp_path / 'missing.pt')
    torch.save({'format': 'other'}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match='format'):
        load_checkpoint(tmp_path / 'other.pt')


def test_failed_write_keeps_previous_checkpoint(tiny_splits, tmp_path, monkeypatch):
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    before = (tmp_path / 'checkpoint.pt').read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError):
        run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    assert (tmp_path / 'checkpoint.pt').read_bytes() == before
    assert not list(tmp_path.glob('.*.tmp'))


def test_config_errors(tiny_splits):
    with pytest.raises(ConfigError, match='unknown model'):
        run('nope', tiny_splits)
    with pytest.raises(ConfigError, match="unknown config key 'lrate'"):
        run('lightgcn', tiny_splits, {'lrate': 0.1})
    with pytest.raises(ConfigError, match=r"'lr' expects a number in \(0, 10\] "
                                          r"\(like 0.001\), got 'fast'"):
        run('lightgcn', tiny_splits, {'lr': 'fast'})
    with pytest.raises(ConfigError, match=r"'epochs' must be an integer in \[1, 1000000\], got 0"):
        run('lightgcn', tiny_splits, {'epochs': 0})
    with pytest.raises(ConfigError, match="'metric'"):
        TrainConfig(metric='Recall@7')
    with pytest.raises(ConfigError, match=r"'embedding_dim' expects an integer in "
                                          r"\[1, 65536\] \(like 64\), got 1.5"):
        run('lightgcn', tiny_splits, {'embedding_dim': 1.5})


def test_trainer_shards_triplets_across_ranks(tiny_splits):
    model = LightGCN.from_data(tiny_splits.train)
    shares = [Trainer(model, tiny_splits, TrainConfig(progress=False), rank=r, world_size=2)
              for r in range(2)]
    edges = [torch.cat([u * 1000 + p for u, p, _ in t.loader]) for t in shares]
    assert not set(edges[0].tolist()) & set(edges[1].tolist())
    total = tiny_splits.train['user', 'interacts', 'item'].edge_index.size(1)
    assert len(edges[0]) + len(edges[1]) == total


def test_trainer_checkpoint_without_run_info_is_loadable(tiny_splits, tmp_path):
    model = LightGCN.from_data(tiny_splits.train, embedding_dim=8)
    Trainer(model, tiny_splits, TrainConfig(epochs=1, progress=False), out_dir=tmp_path).fit()
    loaded, ckpt = load_model(tmp_path / 'checkpoint.pt', tiny_splits)
    assert ckpt['model'] == 'lightgcn' and loaded.hparams == model.hparams


def test_written_files_get_the_usual_permissions(tiny_splits, tmp_path):
    import os
    import stat
    run('bprmf', tiny_splits, {**FAST, 'epochs': 1}, out_dir=tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    for name in ('results.json', 'checkpoint.pt', 'log.jsonl'):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_scientific_notation_without_a_dot_is_a_float(tiny_splits):
    from pyg_mmrec.train import parse_overrides, split_config
    overrides = parse_overrides(['lr=1e-3', 'reg_weight=1e-4'])
    config, hparams = split_config(overrides, LightGCN.hparam_defaults(), 'lightgcn')
    assert config.lr == 1e-3 and hparams['reg_weight'] == 1e-4


class Staged(VBPR):
    """VBPR with a second stage: InfoNCE between users and positives, on the projections only."""
    def stages(self):
        return [Stage('nce', list(self.encoder.parameters()), self.nce)]

    def nce(self, data, user, pos, neg):
        out = self.encode(data)
        return MF.info_nce(out.user[user], out.item[pos])


def test_stage_steps_only_its_parameters_after_the_main_step(tiny_splits):
    torch.manual_seed(0)
    model = Staged.from_data(tiny_splits.train, embedding_dim=8)
    trainer = Trainer(model, tiny_splits, TrainConfig(batch_size=10**6, progress=False))
    after_main = {}
    real = model.nce

    def spy(*args):
        after_main.update({k: v.clone() for k, v in model.state_dict().items()})
        return real(*args)

    trainer.stages[0].loss = spy
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record = trainer.train_epoch()  # one batch: the main step, then the stage step
    assert len(trainer.loader) == 1 and 'nce' in record
    after = model.state_dict()
    staged = {f'encoder.{k}' for k, _ in model.encoder.named_parameters()}
    for k in before:
        assert not torch.equal(before[k], after_main[k])  # the main step moves everything
        assert torch.equal(after_main[k], after[k]) == (k not in staged)


def test_resume_with_stages_equals_uninterrupted_run(tiny_splits, tmp_path, monkeypatch):
    from pyg_mmrec import registry
    monkeypatch.setitem(registry.MODELS, 'staged', Staged)
    config = {**FAST, 'embedding_dim': 8, 'batch_size': 512, 'patience': 100}
    full = run('staged', tiny_splits, {**config, 'epochs': 3}, out_dir=tmp_path / 'full')
    run('staged', tiny_splits, {**config, 'epochs': 1}, out_dir=tmp_path / 'part')
    ckpt = load_checkpoint(tmp_path / 'part' / 'checkpoint.pt')
    assert len(ckpt['stage_optimizers']) == 1 and ckpt['stage_optimizers'][0]['state']
    resumed = run('staged', tiny_splits, {**config, 'epochs': 3}, out_dir=tmp_path / 'part',
                  resume=True)
    assert resumed['valid'] == full['valid'] and resumed['test'] == full['test']
    a = load_checkpoint(tmp_path / 'full' / 'checkpoint.pt')
    b = load_checkpoint(tmp_path / 'part' / 'checkpoint.pt')
    assert all(torch.equal(a['last_state'][k], b['last_state'][k]) for k in a['last_state'])
    # a checkpoint of a model without that stage is refused
    with pytest.raises(CheckpointError, match="holds a 'staged' run, not a 'vbpr' one"):
        run('vbpr', tiny_splits, {**config, 'epochs': 6}, out_dir=tmp_path / 'part',
            resume=True)


def threads_of_epochs(trainer: Trainer, monkeypatch) -> list[int]:
    """The intra-op thread count in effect at each of ``trainer``'s training epochs, filled in
    as it trains."""
    seen, train_epoch = [], trainer.train_epoch

    def spy():
        seen.append(torch.get_num_threads())
        return train_epoch()
    monkeypatch.setattr(trainer, 'train_epoch', spy)
    return seen


def test_threads_setting_holds_during_fit_only(tiny_splits, monkeypatch):
    trainer = make_trainer('lightgcn', tiny_splits, {**FAST, 'epochs': 1, 'threads': 2})
    seen = threads_of_epochs(trainer, monkeypatch)
    before = torch.get_num_threads()
    results = trainer.fit(test=False)
    assert seen == [2] and results['torch_threads'] == 2
    assert torch.get_num_threads() == before


def test_auto_threads_are_chosen_again_every_epoch(tiny_splits, monkeypatch):
    choices = iter([2, 1, 1, 2])  # e.g. another job starts before epoch 1 and ends after 2
    monkeypatch.setattr(trainer_module, 'auto_threads', lambda: next(choices))
    trainer = make_trainer('lightgcn', tiny_splits, {**FAST, 'epochs': 4, 'threads': 0})
    seen = threads_of_epochs(trainer, monkeypatch)
    trainer.fit(test=False)
    assert seen == [2, 1, 1, 2] == [r['threads'] for r in trainer.history]
    # a fixed count, or deterministic=true, is never changed
    for config in ({'threads': 2}, {'threads': 0, 'deterministic': True}):
        trainer = make_trainer('lightgcn', tiny_splits, {**FAST, 'epochs': 2, **config})
        trainer.fit(test=False)
        assert [r['threads'] for r in trainer.history] == [config['threads'] or 1] * 2


def train_weights(trainer: Trainer, epochs: int = 2) -> dict:
    for epoch in range(epochs):
        trainer.epoch = epoch
        trainer.train_epoch()
    return trainer.model.state_dict()


def test_default_adam_step_is_the_per_tensor_step_bit_for_bit(tiny_splits):
    torch.manual_seed(0)
    ours = make_trainer('vbpr', tiny_splits, FAST)
    torch.manual_seed(0)
    loop = make_trainer('vbpr', tiny_splits, FAST)
    loop.optimizer = torch.optim.Adam(loop.model.parameters(), lr=FAST['lr'], foreach=False)
    a, b = train_weights(ours), train_weights(loop)
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(0)
    fused = train_weights(make_trainer('vbpr', tiny_splits, {**FAST, 'fused_optimizer': True}))
    assert all(torch.allclose(a[k], fused[k], rtol=1e-4, atol=1e-6) for k in a)
