"""The benchmark harness: one runner for a *cell* (dataset × model × search grid × seeds).

A cell selects its grid point on validation with its first seed (:func:`~pyg_mmrec.train.tune`:
only the selected point is tested), retrains the selected point with each other seed and tests
each of those once. Its record, ``<out_dir>/cell.json`` (:data:`RECORD`), is written last and
atomically, and it is the one "finished" rule: :func:`run_cell` returns an existing record
without training (after checking it holds the same cell), and continues an unfinished cell where
it stopped (finished runs are not repeated, an interrupted one resumes from its checkpoint).

Record format (JSON):

* ``format``: :data:`FORMAT`;
* ``cell``: the cell as :meth:`Cell.spec` gives it (model, data, condition, seeds, grid, config);
* ``data``: the dataset's name; ``metric``: the selection metric;
* ``grid``: every key searched to the values tried, as the runs took them (``{}`` without a
  grid); ``selected``: the selected point (``{}`` without a grid);
* ``search``: per grid point of the first seed, its config, validation metrics, best epoch and
  seconds per epoch (``[]`` without a grid);
* ``runs``: one entry per seed, in order: the run's ``results.json`` (config, seed, best epoch,
  validation and test metrics, timings, peak memory, number of parameters) without its model
  and data names, plus ``dir``, the run's folder relative to ``out_dir`` (where its checkpoint
  and per-epoch ``log.jsonl`` are, for as long as they are kept);
* ``wall_seconds``, ``peak_rss_mb``, ``torch_threads``: of the process that ran the cell
  (the whole cell, searches included; with ``isolate=True`` that process is the cell's own).

Cells run in-process or, with ``isolate=True``, in a child Python process (for peak memory and
timings of their own); :func:`run_isolated` runs any importable function that way.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from pyg_mmrec.data import DataSplits
from pyg_mmrec.data.recipes import check_condition, load_recipe
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.train.checkpoint import write_json
from pyg_mmrec.train.search import tune
from pyg_mmrec.train.trainer import RESULTS, peak_rss_mb, resume_run
from pyg_mmrec.utils import atomic_write

FORMAT = 'pyg_mmrec-cell-v1'
RECORD = 'cell.json'


@dataclasses.dataclass
class Cell:
    """One benchmark cell.

    Args:
        model (str): Registered model name.
        data (str): A dataset recipe (:func:`~pyg_mmrec.data.load_recipe`): ``'synthetic'``,
            ``'ml-100k-text'`` or a folder name under the data root.
        seeds (list of int): The first selects the grid point; each other retrains it.
        grid (dict or list, optional): The search (as :func:`~pyg_mmrec.train.tune` takes it);
            without it every seed trains ``config`` as it is.
        config (dict, optional): Settings shared by every run (a point selected elsewhere,
            e.g. on clean data, goes here); the progress bar is off unless it sets
            ``progress``.
        condition (str): The data condition of :func:`~pyg_mmrec.data.load_recipe`.
            (default: :obj:`'clean'`)
        modalities (list of str, optional): Keep only these modalities of the data
            (``keep_modalities`` of :func:`~pyg_mmrec.data.load_recipe`); :obj:`None` keeps
            all. (default: :obj:`None`)
    """
    model: str
    data: str
    seeds: list[int]
    grid: dict[str, list] | list[dict[str, Any]] | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    condition: str = 'clean'
    modalities: list[str] | None = None

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"a cell needs one or more distinct seeds, got {self.seeds!r}")
        if 'seed' in self.config:
            raise ConfigError("a cell's config must not set 'seed'; pass the seeds instead")
        check_condition(self.condition)
        if self.modalities is not None and not self.modalities:
            raise ConfigError("a cell's modalities name one modality or more (None: all)")

    def spec(self) -> dict[str, Any]:
        """The cell as JSON values (how its record stores it; ``modalities`` only where set,
        so that the records of cells from before it existed still match)."""
        spec = json.loads(json.dumps(dataclasses.asdict(self)))
        if spec['modalities'] is None:
            del spec['modalities']
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Cell:
        """The cell of a :meth:`spec`."""
        return cls(**spec)


def read_cell(out_dir: str | Path) -> dict[str, Any] | None:
    """The record of the finished cell in ``out_dir``, or :obj:`None` if it has not finished.

    Raises:
        ConfigError: If ``out_dir`` holds a ``cell.json`` that is not a harness record.
    """
    path = Path(out_dir) / RECORD
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding='utf-8'))
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        raise ConfigError(f"{path}: not a cell record (format "
                          f"{record.get('format') if isinstance(record, dict) else None!r}, "
                          f"expected {FORMAT!r}); move it away or use another folder")
    return record


def run_cell(cell: Cell, out_dir: str | Path, splits: DataSplits | None = None,
             data_root: str | Path | None = None, text_cache: str | Path | None = None,
             isolate: bool = False, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Runs ``cell`` into ``out_dir`` unless it has finished there; returns its record.

    Args:
        cell (Cell): The cell.
        out_dir (str or Path): Its folder: the search in ``tune/``, the other seeds in
            ``seed<seed>/``, the record in ``cell.json``.
        splits (DataSplits, optional): The data, if already loaded (in-process only; the
            cell's ``data`` then names it, and need not be a recipe; its ``modalities`` are
            selected from them); otherwise the cell's recipe is loaded.
        data_root (str or Path, optional): See :func:`~pyg_mmrec.data.data_root`.
        text_cache (str or Path, optional): Cache folder of the text encodings.
        isolate (bool): Run in a child process (see :func:`run_isolated`).
        env (dict, optional): The child's environment (e.g. ``OMP_NUM_THREADS``).

    Raises:
        ConfigError: If ``out_dir`` holds the record of another cell (or a ``cell.json``
            that is no cell record), or ``splits`` is given with ``isolate``.
    """
    out_dir = Path(out_dir)
    record = read_cell(out_dir)
    if record is not None:
        if record['cell'] != cell.spec():
            raise ConfigError(f"{out_dir / RECORD}: holds another cell ({record['cell']}, "
                              f"requested {cell.spec()}); use another folder")
        return record
    if isolate:
        if splits is not None:
            raise ConfigError("an isolated cell loads its data itself; do not pass splits")
        return run_isolated('pyg_mmrec.train.harness:_run_spec', {
            'spec': cell.spec(), 'out_dir': str(out_dir),
            'data_root': None if data_root is None else str(data_root),
            'text_cache': None if text_cache is None else str(text_cache)}, env=env)
    start = time.perf_counter()
    if splits is None:
        splits = load_recipe(cell.data, cell.condition, data_root, text_cache,
                             keep_modalities=cell.modalities)
    elif cell.modalities is not None:
        from pyg_mmrec.transforms import SelectModalities
        splits = DataSplits(*map(SelectModalities(cell.modalities), splits))
    config = {**cell.config, 'progress': cell.config.get('progress', False)}
    selected: dict[str, Any] = {}
    grid: dict[str, list] = {}
    search: list[dict[str, Any]] = []
    runs = []
    seeds = list(cell.seeds)
    if cell.grid is not None:
        summary = tune(cell.model, splits, cell.grid, {**config, 'seed': seeds[0]},
                       out_dir=out_dir / 'tune', resume=True)
        grid = summary['grid']
        selected = {k: summary['selected'][k] for k in grid}
        search = summary['runs']
        run_dir = Path('tune') / f"run{summary['selected']['run']}"
        results = json.loads((out_dir / run_dir / RESULTS).read_text(encoding='utf-8'))
        runs.append(_entry({**results, 'test': summary['selected']['test']}, run_dir))
        seeds = seeds[1:]
    for seed in seeds:
        run_dir = Path(f'seed{seed}')
        results = resume_run(cell.model, splits, {**config, **selected, 'seed': seed},
                             out_dir / run_dir)
        runs.append(_entry(results, run_dir))
    record = {'format': FORMAT, 'cell': cell.spec(), 'data': splits.name,
              'metric': runs[0]['config']['metric'], 'grid': grid, 'selected': selected,
              'search': search,
              'runs': runs, 'wall_seconds': time.perf_counter() - start,
              'peak_rss_mb': peak_rss_mb(), 'torch_threads': torch.get_num_threads()}
    write_json(out_dir / RECORD, record)
    return record


def _entry(results: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """What a record keeps of one run."""
    return {**{k: v for k, v in results.items() if k not in ('model', 'data')},
            'dir': run_dir.as_posix()}


def _run_spec(spec: dict[str, Any], out_dir: str, data_root: str | None,
              text_cache: str | None) -> dict[str, Any]:
    """:func:`run_cell` from JSON arguments (the child of an isolated cell)."""
    return run_cell(Cell.from_spec(spec), out_dir, data_root=data_root, text_cache=text_cache)


def _resolve(target: str):
    """The function named by ``'package.module:function'`` or ``'path/to/file.py:function'``."""
    where, sep, name = target.rpartition(':')
    if not sep or not where or not name:
        raise ConfigError(f"expected 'module:function' or 'file.py:function', got {target!r}")
    if where.endswith('.py'):
        spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        if spec is None or not Path(where).is_file():
            raise ConfigError(f"{where}: no such Python file")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    if not callable(getattr(module, name, None)):
        raise ConfigError(f"{target}: {where} has no function {name!r}")
    return getattr(module, name)


def run_isolated(target: str, kwargs: Mapping[str, Any],
                 env: Mapping[str, str] | None = None) -> Any:
    """Calls ``target(**kwargs)`` in a child Python process and returns its result, for
    measurements that need a process of their own (peak memory, timings).

    Args:
        target (str): ``'package.module:function'`` or ``'path/to/file.py:function'``.
        kwargs (dict): JSON-serialisable keyword arguments.
        env (dict, optional): The child's environment (default: this process's).

    Returns:
        The function's return value, passed back as JSON.

    Raises:
        ConfigError: If ``target`` names no function (checked here, before the child starts).
        subprocess.CalledProcessError: If the child fails (its output is not captured, so its
            traceback is shown).
    """
    _resolve(target)
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / 'result.json'
        code = ('import sys; from pyg_mmrec.train.harness import _child; '
                '_child(sys.argv[1], sys.argv[2], sys.argv[3])')
        subprocess.run([sys.executable, '-c', code, target, json.dumps(dict(kwargs)),
                        str(result)], check=True, env=None if env is None else dict(env))
        return json.loads(result.read_text(encoding='utf-8'))


def _child(target: str, kwargs: str, result: str) -> None:
    """The child of :func:`run_isolated`."""
    write_json(result, _resolve(target)(**json.loads(kwargs)))


def add_benchmark_arguments(parser: argparse.ArgumentParser, results: Path,
                            data_root: bool = True) -> None:
    """Adds the options every benchmark script shares to ``parser``: ``--out`` (the results
    folder, default ``results``), ``--report-only`` (rebuild the report from its recorded
    JSON, without training) and, with ``data_root``, ``--data-root`` (the folder of the real
    datasets, see :func:`~pyg_mmrec.data.data_root`)."""
    parser.add_argument('--out', type=Path, default=results, help='results folder')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild the report from its recorded JSON, without training')
    if data_root:
        parser.add_argument('--data-root', type=Path,
                            help='folder of the real datasets (default: $PYG_MMREC_DATA, else '
                                 '../shared/data next to the repository)')


def merge_rows(recorded: list[dict[str, Any]], rows: list[dict[str, Any]],
               key: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a report that earlier or concurrent runs wrote (``recorded``), each replaced
    by the row of ``rows`` with the same ``key`` fields, and the other ``rows`` appended: how
    a benchmark keeps the rows it did not run."""
    merged = {tuple(r[k] for k in key): r for r in recorded}
    merged.update({tuple(r[k] for k in key): r for r in rows})
    return list(merged.values())


def mean_std(values: list[float]) -> str:
    """``'mean ± std'`` of ``values`` to 4 decimals (the value alone when there is one)."""
    if len(values) == 1:
        return f'{values[0]:.4f}'
    return f'{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}'


def write_report(out_dir: str | Path, stem: str, report: Any, markdown: str) -> None:
    """Writes ``<out_dir>/<stem>.json`` (the report's data) and ``<stem>.md``, atomically."""
    out_dir = Path(out_dir)
    write_json(out_dir / f'{stem}.json', report)
    atomic_write(out_dir / f'{stem}.md', lambda f: f.write(markdown.encode('utf-8')))


def read_report(out_dir: str | Path, stem: str) -> Any:
    """The data of the report ``<out_dir>/<stem>.json`` (to rebuild its Markdown).

    Raises:
        ConfigError: If the report does not exist.
    """
    path = Path(out_dir) / f'{stem}.json'
    if not path.is_file():
        raise ConfigError(f"{path}: no such report; run the benchmark first")
    return json.loads(path.read_text(encoding='utf-8'))


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """The compact summary of a tuned cell's record that tuning reports list: ``dataset``,
    ``model``, ``applicable``, ``grid``, ``selected``, ``valid`` (of the selected point),
    ``seeds`` (per seed: test metrics, best epoch, seconds per training epoch and per
    validation pass), ``eval_seconds`` (median), ``peak_rss_mb``, ``wall_minutes``,
    ``max_epochs``, ``patience``, ``search_runs`` and ``torch_threads``."""
    runs = record['runs']
    return {'dataset': record['cell']['data'], 'model': record['cell']['model'],
            'applicable': True, 'grid': record['grid'],
            'selected': record['selected'], 'valid': runs[0]['valid'],
            'seeds': [{k: r[k] for k in ('seed', 'test', 'best_epoch',
                                         'train_seconds_per_epoch', 'eval_seconds')}
                      for r in runs],
            'eval_seconds': statistics.median(r['eval_seconds'] for r in runs),
            'peak_rss_mb': record['peak_rss_mb'], 'wall_minutes': record['wall_seconds'] / 60,
            'max_epochs': runs[0]['config']['epochs'],
            'patience': runs[0]['config']['patience'], 'search_runs': len(record['search']),
            'torch_threads': record['torch_threads']}


def find_summary(report: str | Path, dataset: str, model: str) -> dict[str, Any]:
    """The summary (:func:`summarize`) of (``dataset``, ``model``) in a tuning report's
    ``cells``.

    Raises:
        ConfigError: If the report or the cell is missing.
    """
    report = Path(report)
    cells = read_report(report.parent, report.stem)['cells']
    found = next((c for c in cells if c['dataset'] == dataset and c['model'] == model), None)
    if found is None or not found['applicable']:
        raise ConfigError(f"{report}: holds no tuned cell of {model!r} on {dataset!r}; run "
                          f"that cell first")
    return found


def tuned_summaries(report: str | Path, dataset: str, models: list[str]
                    ) -> dict[str, dict[str, Any]]:
    """The summaries (:func:`summarize`) of the tuned cells of ``models`` on ``dataset`` in a
    tuning report's ``cells``, by model, in the order of ``models``; models without a finished,
    applicable cell there are left out (a comparison lists them as not run).

    Raises:
        ConfigError: If the report is missing.
    """
    report = Path(report)
    cells = {c['model']: c for c in read_report(report.parent, report.stem)['cells']
             if c['dataset'] == dataset and c['applicable']}
    return {m: cells[m] for m in models if m in cells}


def comparison_table(rows: list[tuple[str, str, list[dict[str, float]] | None]],
                     metrics: list[str], ours: str) -> list[str]:
    """The Markdown lines of a paper-style comparison table: one row per ``(group, system,
    test metrics of each seed)`` (:obj:`None`: not run, shown as "—") with mean ± std over
    seeds, per metric the best mean in bold and the second underlined, then the relative
    improvement of the system ``ours`` over the best other system on each metric (the seed
    papers' definition: the strongest baseline of that column; it reports the comparison and
    selects nothing).
    """
    means = {name: {m: statistics.mean(t[m] for t in tests) for m in metrics}
             for _, name, tests in rows if tests}
    ranked = {m: sorted({v[m] for v in means.values()}, reverse=True) for m in metrics}

    def shown(name: str, tests: list[dict[str, float]], metric: str) -> str:
        text = mean_std([t[metric] for t in tests])
        rank = ranked[metric].index(means[name][metric])
        return f'**{text}**' if rank == 0 else f'<u>{text}</u>' if rank == 1 else text

    lines = ['| group | system | ' + ' | '.join(metrics) + ' |',
             '|---|---|' + '---|' * len(metrics)]
    for group, name, tests in rows:
        cells = [shown(name, tests, m) for m in metrics] if tests else ['—'] * len(metrics)
        lines.append(f'| {group} | {name} | ' + ' | '.join(cells) + ' |')
    baselines = [name for name in means if name != ours]
    if ours in means and baselines:
        gains = []
        for m in metrics:
            best = max(baselines, key=lambda name: means[name][m])
            gains.append(f'{means[ours][m] / means[best][m] - 1:+.2%} (vs {best})'
                         if means[best][m] else '—')
        lines.append(f'| | improvement of {ours} | ' + ' | '.join(gains) + ' |')
    return lines


def tuned_config(summary: dict[str, Any]) -> dict[str, Any]:
    """The selected point of a cell summary with its epoch budget (``epochs``, and
    ``patience`` where the summary records it)."""
    budget = {'epochs': summary['max_epochs']}
    if 'patience' in summary:
        budget['patience'] = summary['patience']
    return {**summary['selected'], **budget}
