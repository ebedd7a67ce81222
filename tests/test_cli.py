import json
from pathlib import Path

import numpy as np
import pytest

from pyg_mmrec.cli import main


@pytest.fixture
def mmrec_folder(tmp_path, tiny_splits):
    """The tiny synthetic dataset written in MMRec's folder format."""
    folder = tmp_path / 'toy'
    folder.mkdir()
    rows = ['userID\titemID\tx_label']
    for label, view in enumerate(tiny_splits):
        for u, i in view['user', 'interacts', 'item'].edge_label_index.t().tolist():
            rows.append(f'{u}\t{i}\t{label}')
    (folder / 'toy.inter').write_text('\n'.join(rows) + '\n')
    np.save(folder / 'image_feat.npy', tiny_splits.train['item'].x_image.numpy())
    return folder


def test_train_evaluate_recommend(mmrec_folder, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', '--model', 'lightgcn', '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'epochs=3', 'progress=false', 'embedding_dim=16']) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / 'results.json').read_text())
    assert f"{results['test']['Recall@20']:.4f}" in printed
    assert results['config']['epochs'] == 3 and results['model'] == 'lightgcn'

    assert main(['evaluate', '--checkpoint', str(out / 'checkpoint.pt'),
                 '--data', str(mmrec_folder)]) == 0
    assert f"{results['test']['NDCG@10']:.4f}" in capsys.readouterr().out

    tsv = tmp_path / 'recs.tsv'
    assert main(['recommend', '--checkpoint', str(out / 'checkpoint.pt'), '--data',
                 str(mmrec_folder), '--k', '5', '--split', 'test', '--out', str(tsv),
                 '--internal-ids']) == 0
    assert 'recommendations to' in capsys.readouterr().out
    lines = tsv.read_text().splitlines()
    assert lines[0] == 'userID\titemID\trank\tscore'
    recs = [line.split('\t') for line in lines[1:]]
    inter = [line.split('\t') for line in (mmrec_folder / 'toy.inter').read_text().split('\n')[1:]
             if line]
    seen = {(u, i) for u, i, label in inter if label in ('0', '1')}  # train + validation
    assert recs and not {(u, i) for u, i, _, _ in recs} & seen
    test_users = {u for u, _, label in inter if label == '2'}
    assert {u for u, *_ in recs} <= test_users
    for user in {u for u, *_ in recs}:
        rows = [r for r in recs if r[0] == user]
        assert [int(r[2]) for r in rows] == [1, 2, 3, 4, 5]
        assert [float(r[3]) for r in rows] == sorted((float(r[3]) for r in rows), reverse=True)

    assert main(['recommend', '--checkpoint', str(out / 'checkpoint.pt'), '--data',
                 str(mmrec_folder), '--k', '2', '--users', '0,3']) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [r.split('\t')[0] for r in rows] == ['0', '0', '3', '3']


def test_config_file_and_overrides(mmrec_folder, tmp_path):
    config = tmp_path / 'c.yaml'
    config.write_text('epochs: 2\nembedding_dim: 8\nprogress: false\n')
    out = tmp_path / 'run'
    assert main(['train', '--model', 'bprmf', '--data', str(mmrec_folder), '--out', str(out),
                 '--config', str(config), '--set', 'embedding_dim=4']) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['config']['embedding_dim'] == 4 and results['config']['epochs'] == 2


def test_threads_flag_is_the_threads_setting(mmrec_folder, tmp_path):
    out = tmp_path / 'run'
    assert main(['train', '--model', 'bprmf', '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'epochs=1', 'progress=false', '--threads', '2']) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['config']['threads'] == 2 and results['torch_threads'] == 2


def test_data_info(mmrec_folder, capsys):
    assert main(['data', 'info', str(mmrec_folder)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info['users'] == 120 and info['items'] == 80 and info['modalities'] == {'image': 64}


@pytest.mark.parametrize('argv, message', [
    (['train', '--model', 'nope', '--data', 'synthetic', '--out', 'x'], "unknown model 'nope'"),
    (['train', '--model', 'bprmf', '--data', 'synthetic', '--out', 'x', '--set', 'foo=1'],
     "unknown config key 'foo'"),
    (['train', '--model', 'bprmf', '--data', 'synthetic', '--out', 'x', '--set', 'lr'],
     'key=value'),
    (['train', '--model', 'lightgcn', '--data', 'synthetic', '--out', 'x', '--set',
      'robust=amr'], "robust='amr' needs a model with the capabilities (modality); "
                     "'lightgcn' lacks (modality)"),
    (['data', 'info', '/nonexistent/folder'], 'no such dataset'),
    (['evaluate', '--checkpoint', '/nonexistent.pt', '--data', 'synthetic'], 'not found'),
])
def test_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith('pyg-mmrec: error:') and 'Traceback' not in err


def test_bad_users_argument(mmrec_folder, tmp_path, capsys):
    out = tmp_path / 'run'
    main(['train', '--model', 'bprmf', '--data', str(mmrec_folder), '--out', str(out),
          '--set', 'epochs=1', 'progress=false'])
    for users, flags, message in (
            ('1,x', ['--internal-ids'], 'comma-separated integer ids'),
            ('999', ['--internal-ids'], 'user id 999 is out of range'),
            ('1,x', [], "unknown user id 'x'"), ('999', [], "unknown user id '999'")):
        assert main(['recommend', '--checkpoint', str(out / 'checkpoint.pt'), '--data',
                     str(mmrec_folder), '--users', users, *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count('\n') == 1


def test_plugin_next_to_its_backbone(mmrec_folder, tmp_path, capsys):
    out = tmp_path / 'ibm'
    assert main(['train', '--model', 'ibmrec', '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'backbone=vbpr', 'alpha=0.5', 'epochs=2', 'progress=false',
                 'embedding_dim=8', '--with-backbone']) == 0
    printed = capsys.readouterr().out
    plugin = json.loads((out / 'results.json').read_text())
    bare = json.loads((out / 'backbone' / 'results.json').read_text())
    assert plugin['model'] == 'ibmrec' and bare['model'] == 'vbpr'
    # The backbone run has the shared settings and none of the plug-in's own.
    assert bare['config']['embedding_dim'] == 8 and bare['config']['epochs'] == 2
    assert 'alpha' not in bare['config']
    header = next(line for line in printed.splitlines() if line.startswith('metric'))
    assert header.split()[1:] == ['ibmrec', 'test', 'vbpr', 'test']
    row = next(line for line in printed.splitlines() if line.startswith('Recall@20'))
    assert row.split()[1:] == [f"{plugin['test']['Recall@20']:.4f}",
                               f"{bare['test']['Recall@20']:.4f}"]


@pytest.mark.parametrize('model, extra', [('dvib', ['backbone=vbpr', 'robust=amr']),
                                          ('vbpr', ['robust=mg'])])
def test_robust_training_methods_from_the_command_line(model, extra, mmrec_folder, tmp_path):
    out = tmp_path / 'run'
    assert main(['train', '--model', model, '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'epochs=2', 'progress=false', 'embedding_dim=8', *extra]) == 0
    results = json.loads((out / 'results.json').read_text())
    robust = extra[-1].split('=')[1]
    assert results['config']['robust'] == robust and results['model'] == model
    log = [json.loads(line) for line in (out / 'log.jsonl').read_text().splitlines()]
    assert all(('amr_adv' in r) == (robust == 'amr') for r in log)


def test_with_backbone_needs_a_plugin(mmrec_folder, tmp_path, capsys):
    assert main(['train', '--model', 'lightgcn', '--data', str(mmrec_folder), '--out',
                 str(tmp_path / 'x'), '--with-backbone']) == 2
    assert 'not a plug-in' in capsys.readouterr().err


def _train_argv(data, out, *extra):
    return ['train', '--model', 'bprmf', '--data', str(data), '--out', str(out),
            '--set', 'epochs=1', 'progress=false', 'embedding_dim=4', *extra]


def test_out_is_checked_before_the_data_is_read(tmp_path, capsys):
    missing = tmp_path / 'no-such-data'  # would fail with 'no such dataset' if it were read
    (tmp_path / 'file').write_text('x')
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o500)
    cases = [('', '--out is empty'), (tmp_path / 'file', 'is an existing file'),
             (locked / 'run', 'cannot write there')]
    import os
    for out, message in cases[:2] + (cases[2:] if os.geteuid() != 0 else []):
        assert main(_train_argv(missing, out)) == 2
        err = capsys.readouterr().err
        assert message in err and err.count('\n') == 1


def test_existing_run_needs_resume_or_overwrite_and_set_accumulates(mmrec_folder, tmp_path,
                                                                   capsys):
    out = tmp_path / 'run'
    assert main(_train_argv(mmrec_folder, out, '--set', 'reg_weight=0.5')) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['config']['reg_weight'] == 0.5 and results['config']['embedding_dim'] == 4
    capsys.readouterr()
    assert main(_train_argv(mmrec_folder, out, '--set', 'reg_weight=0.5')) == 2
    assert '--resume to continue it or --overwrite' in capsys.readouterr().err
    assert main(_train_argv(mmrec_folder, out, '--set', 'reg_weight=0.5', 'lr=0.5',
                            '--resume')) == 2
    assert "'lr': (0.001, 0.5)" in capsys.readouterr().err
    assert main(_train_argv(mmrec_folder, out, '--overwrite')) == 0


def test_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(['train', '--model', 'bprmf'])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('pyg-mmrec: error: train:') and err.count('\n') == 1


def test_help_imports_no_torch():
    import subprocess
    import sys
    code = ("import sys\nfrom pyg_mmrec.cli import build_parser\n"
            "build_parser().format_help()\nassert 'torch' not in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True)


def test_models_lists_every_key_with_default_and_range(capsys):
    assert main(['models']) == 0
    out = capsys.readouterr().out
    assert "  embedding_dim=64  (an integer in [1, 65536])" in out
    assert "  lr=0.001  (a number in (0, 10])" in out
    assert 'lattice (LATTICE; capabilities: hidden, inductive, item_graph, modality):' in out
    assert 'lightgcn (LightGCN; capabilities: hidden):' in out
    assert "  cold_items=0.0  (a number in [0, 1))" in out
    assert "  robust='none'  (one of ['none', 'amr', 'mg'])" in out
    assert "  mg_interval=3  (an integer in [1, 1000000])" in out


def test_interrupt_is_one_line_naming_the_checkpoint(mmrec_folder, tmp_path, capsys,
                                                     monkeypatch):
    import pyg_mmrec.train
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pyg_mmrec.train, 'run', interrupted)
    assert main(_train_argv(mmrec_folder, tmp_path / 'run')) == 130
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'resume with the same command and --resume' in err


@pytest.mark.skipif(not hasattr(__import__('os'), 'fork'), reason='needs a POSIX terminal')
def test_ctrl_c_at_a_real_terminal(tmp_path):
    """Ctrl-C typed at a terminal (SIGINT to the whole foreground process, wherever it is):
    one line, status 130, and the checkpoint it names loads."""
    import os
    import pty
    import select
    import signal
    import sys
    import time

    out = tmp_path / 'run'
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, as a user would start it
        # A shell's background job inherits SIGINT ignored, and Python then keeps ignoring it:
        # restore the default, as a terminal user's shell does for a foreground command.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.environ.update(OMP_NUM_THREADS='1', PYTHONPATH=str(Path(__file__).parents[1]))
        os.execv(sys.executable, [sys.executable, '-m', 'pyg_mmrec.cli', 'train', '--model',
                                  'lightgcn', '--data', 'synthetic', '--out', str(out),
                                  '--set', 'epochs=100000', 'patience=100000'])
    printed, deadline = b'', time.monotonic() + 120

    def read(until):
        nonlocal printed
        while time.monotonic() < until:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    return
                if not chunk:
                    return
                printed += chunk
            if until is deadline and (out / 'checkpoint.pt').is_file():
                return

    read(deadline)  # until the first checkpoint is written
    assert (out / 'checkpoint.pt').is_file(), printed.decode(errors='replace')[-2000:]
    os.write(fd, b'\x03')  # Ctrl-C, typed
    stop = time.monotonic() + 60
    read(stop)  # until the child closes the terminal
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < stop:  # it may still be exiting
        time.sleep(0.1)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # never wait forever on a run the interrupt did not stop
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    text = printed.decode(errors='replace')
    assert done, f'the run went on after Ctrl-C: {text[-2000:]}'
    assert os.waitstatus_to_exitcode(status) == 130, text[-2000:]
    assert 'Traceback' not in text and 'KeyboardInterrupt' not in text
    last = [line for line in text.replace('\r', '\n').splitlines() if line.strip()][-1]
    assert last.startswith('pyg-mmrec: interrupted;') and '--resume' in last
    assert str(out / 'checkpoint.pt') in last
    from pyg_mmrec.train.checkpoint import load_checkpoint
    assert load_checkpoint(out / 'checkpoint.pt')['model'] == 'lightgcn'  # verified, whole


def test_recommend_returns_fewer_than_k_and_says_so(mmrec_folder, tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(_train_argv(mmrec_folder, out)) == 0
    capsys.readouterr()
    assert main(['recommend', '--checkpoint', str(out / 'checkpoint.pt'), '--data',
                 str(mmrec_folder), '--k', '1000', '--users', '0']) == 0
    captured = capsys.readouterr()
    rows = [r.split('\t') for r in captured.out.splitlines()[1:]]
    inter = [line.split('\t') for line in (mmrec_folder / 'toy.inter').read_text().split('\n')[1:]
             if line]
    seen = {i for u, i, label in inter if u == '0' and label == '0'}  # training items
    assert len(rows) == 80 - len(seen) and not {i for _, i, _, _ in rows} & seen
    assert 'fewer than 1000' in captured.err
    assert all(r[3] != '-inf' for r in rows)


def test_cold_start_protocol_from_the_command_line(mmrec_folder, tmp_path, capsys):
    out = tmp_path / 'cold'
    assert main(['train', '--model', 'vbpr', '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'epochs=1', 'progress=false', 'embedding_dim=8',
                 'cold_items=0.25']) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / 'results.json').read_text())
    header = printed.splitlines()[[line.startswith('metric') for line in
                                   printed.splitlines()].index(True)].split()
    assert header[1:] == ['valid', 'cold', 'valid', 'warm', 'valid', 'all',
                          'test', 'cold', 'test', 'warm', 'test', 'all']
    assert f"{results['test']['cold/Recall@20']:.4f}" in printed

    assert main(['evaluate', '--checkpoint', str(out / 'checkpoint.pt'),
                 '--data', str(mmrec_folder)]) == 0
    evaluated = capsys.readouterr().out
    row = next(line for line in evaluated.splitlines() if line.startswith('Recall@20 '))
    test = results['test']
    assert row.split()[1:] == [f"{test[k]:.4f}" for k in ('cold/Recall@20', 'warm/Recall@20',
                                                          'Recall@20')]

    assert main(['train', '--model', 'lightgcn', '--data', str(mmrec_folder), '--out',
                 str(tmp_path / 'id'), '--set', 'epochs=1', 'cold_items=0.25']) == 2
    assert 'LightGCN represents an item by its ID' in capsys.readouterr().err


def test_recommend_new_items_from_a_file(mmrec_folder, tmp_path, capsys, tiny_splits):
    out = tmp_path / 'run'
    assert main(['train', '--model', 'vbpr', '--data', str(mmrec_folder), '--out', str(out),
                 '--set', 'epochs=1', 'progress=false', 'embedding_dim=8']) == 0
    capsys.readouterr()
    new = tmp_path / 'new.npz'
    np.savez(new, image=tiny_splits.train['item'].x_image[:2].numpy() + 1.0,
             ids=np.array(['fresh-a', 'fresh-b']))
    argv = ['recommend', '--checkpoint', str(out / 'checkpoint.pt'), '--k', '2', '--users',
            '0,1', '--new-items', str(new), '--only-new']
    assert main(argv) == 2  # the model must represent them: the data is needed
    assert 'pass the dataset' in capsys.readouterr().err
    assert main([*argv, '--data', str(mmrec_folder)]) == 0
    rows = [line.split('\t') for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(r[1] for r in rows if r[0] == '0') == ['fresh-a', 'fresh-b']
    (tmp_path / 'bad.npz').write_text('not an archive')
    assert main([*argv[:-3], '--new-items', str(tmp_path / 'bad.npz'), '--data',
                 str(mmrec_folder)]) == 2
    assert 'not a readable .npz' in capsys.readouterr().err
