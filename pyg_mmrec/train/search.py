"""Hyper-parameter search selected on validation, with a single test evaluation."""
from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

from pyg_mmrec.data import DataSplits, load_dataset
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.metrics import RankingEvaluator
from pyg_mmrec.train.checkpoint import load_checkpoint, write_json
from pyg_mmrec.train.config import TRAIN_KEYS, resolve
from pyg_mmrec.train.evaluation import evaluate
from pyg_mmrec.train.trainer import CHECKPOINT, checkpoint_splits, load_model, resume_run, run


def grid_configs(grid: dict[str, list] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (the last key varies fastest); a list
    of configurations (e.g. from :func:`half_fraction`) is checked and returned as it is."""
    if isinstance(grid, list | tuple):
        if not grid or any(not isinstance(p, dict) or p.keys() != grid[0].keys() for p in grid):
            raise ConfigError(f"a list of configurations must be non-empty and give every "
                              f"configuration the same keys, got {grid!r}")
        return [dict(p) for p in grid]
    for key, values in grid.items():
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(f"grid key {key!r} needs a non-empty list of values, got {values!r}")
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def half_fraction(grid: dict[str, list]) -> list[dict[str, Any]]:
    r"""The half-fraction :math:`2^{k-1}` of a grid of :math:`k` two-level factors: the
    combinations whose number of second levels is even. Each factor is tried at both levels
    equally often, and for :math:`k \ge 3` so is every pair of levels of any two factors,
    with half the runs of the full grid (e.g. 4 instead of 8 for learning rate, L2 weight and
    one model knob).

    Raises:
        ConfigError: If a factor does not have exactly two values.
    """
    for key, values in grid.items():
        if not isinstance(values, list | tuple) or len(values) != 2:
            raise ConfigError(f"half_fraction needs two values per grid key; {key!r} has "
                              f"{values!r}")
    return [dict(zip(grid, (values[i] for values, i in zip(grid.values(), levels, strict=True)),
                     strict=True))
            for levels in itertools.product((0, 1), repeat=len(grid)) if sum(levels) % 2 == 0]


def tune(model: str, data: str | Path | DataSplits,
         grid: dict[str, list] | list[dict[str, Any]],
         config: dict[str, Any] | None = None, out_dir: str | Path | None = None,
         resume: bool = False) -> dict[str, Any]:
    """Trains ``model`` once per grid point, selects the point with the best validation
    metric, and evaluates the test split for that point only: the Python equivalent of
    ``pyg-mmrec tune``. (Toolboxes that pick the grid point on test overstate their results;
    here no other point is ever tested.)

    Args:
        model (str): Registered model name.
        data (str, Path or DataSplits): The dataset.
        grid (dict or list): Config key to the list of values to try, every combination
            (e.g. ``{'lr': [1e-3, 1e-2], 'reg_weight': [1e-4, 1e-3]}``), or a list of
            configurations to try as they are (e.g. :func:`half_fraction` of a grid).
        config (dict, optional): Settings shared by every run.
        out_dir (str or Path, optional): Each run writes to ``out_dir/run<i>`` (its
            ``results.json`` has ``test: null``); the summary goes to ``out_dir/tune.json`` and
            the table to ``out_dir/tune.md``. Without it, runs use a temporary folder.
        resume (bool): Continue an interrupted search in ``out_dir``: finished runs are not
            repeated and an interrupted one continues from its checkpoint
            (:func:`resume_run`).

    Returns:
        dict: ``selected`` (its config, validation and test metrics, run index) and ``runs``
        (config, validation metrics and timings of every run).
    """
    config = dict(config or {})
    if resume and out_dir is None:
        raise ConfigError("resuming a search needs the out_dir that holds it")
    points = []
    for point in grid_configs(grid):  # check and coerce every point before the first run
        spec = resolve(model, {**config, **point})
        points.append({k: getattr(spec.train, k) if k in TRAIN_KEYS else spec.hparams[k]
                       for k in point})
    train_config = resolve(model, config).train
    metric = train_config.metric
    splits = data if isinstance(data, DataSplits) else load_dataset(data)

    with tempfile.TemporaryDirectory() as scratch:  # checkpoints go here without out_dir
        out = Path(out_dir) if out_dir is not None else Path(scratch)
        runs = []
        for i, point in enumerate(points):
            results = (resume_run if resume else run)(
                model, splits, {**config, **point}, out_dir=out / f'run{i}', test=False)
            runs.append({'run': i, **point, 'valid': results['valid'],
                         'best_epoch': results['best_epoch'],
                         'train_seconds_per_epoch': results['train_seconds_per_epoch']})
        best = max(runs, key=lambda r: r['valid'][metric])  # first of equals: grid order
        path = out / f"run{best['run']}" / CHECKPOINT
        run_splits = checkpoint_splits(load_checkpoint(path), splits)  # cold_items: its split
        selected, _ = load_model(path, run_splits)
        test = evaluate(selected, run_splits, 'test',
                        RankingEvaluator(train_config.ks, train_config.max_scores),
                        train_config.exclude_val_at_test)
    summary = {
        'model': model.lower(), 'data': splits.name, 'metric': metric,
        'grid': {k: list(dict.fromkeys(p[k] for p in points)) for k in points[0]},  # coerced
        'selected': {'run': best['run'], **{k: best[k] for k in points[0]},
                     'valid': best['valid'], 'test': test},
        'runs': runs,
    }
    if out_dir is not None:
        write_json(Path(out_dir) / 'tune.json', summary)
        (Path(out_dir) / 'tune.md').write_text(format_table(summary))
    return summary


def format_table(summary: dict[str, Any]) -> str:
    """The runs of a search as a Markdown table, the selected one marked."""
    metric, keys = summary['metric'], list(summary['grid'])
    lines = [f"| run | {' | '.join(keys)} | valid {metric} | best epoch | s/epoch |",
             '|' + '---|' * (len(keys) + 4)]
    for r in summary['runs']:
        mark = ' (selected)' if r['run'] == summary['selected']['run'] else ''
        lines.append(f"| {r['run']}{mark} | {' | '.join(str(r[k]) for k in keys)} "
                     f"| {r['valid'][metric]:.4f} | {r['best_epoch']} "
                     f"| {r['train_seconds_per_epoch']:.2f} |")
    sel = summary['selected']
    lines += ['', f"Selected run {sel['run']} on validation; its test {metric}: "
              f"{sel['test'][metric]:.4f} (no other run was tested)."]
    return '\n'.join(lines) + '\n'
