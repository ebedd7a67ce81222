"""Scale of each backbone's hidden layer H, against which DVIB's absolute noise acts.

DVIB perturbs H with absolute noise: σ ∈ {1e-3, 5e-4, 1e-4} for DVIB_c (the paper's grid) and
φ(H) ∈ (0, 1), about 0.5 at initialisation, for DVIB_a. What the perturbation does depends on
the noise-to-signal ratio, the noise divided by the root mean square of H's rows
(:func:`pyg_mmrec.ib.hidden_scale`), and that scale differs by orders of magnitude between
backbones: a ratio far below 1 leaves DVIB training like its backbone, one far above it drowns
H. For every backbone that marks a hidden layer, on each dataset, this reports the row RMS of
H at initialisation (seed 2024) or, with ``--epochs N``, after N epochs of training with the
backbone's defaults, and the ratios of the DVIB noise scales to its median. Results go to
``benchmarks/results/hidden_scale.{md,json}``; ``--report-only`` rebuilds the Markdown from the
JSON. ``--noise-scales RUN ...`` instead reads DVIB runs' folders (their checkpoints' best
state) and prints the noise scales each applies to the rows of H on its dataset
(:func:`pyg_mmrec.ib.noise_scale`: mean, smallest and largest φ, and the rows' median RMS),
e.g. where DVIB_a's regulariser weight γ_r or prior variance a left them (DVIB's Tables 9-10).

Usage::

    python benchmarks/hidden_scale.py                            # tiktok and synthetic, at init
    python benchmarks/hidden_scale.py --datasets tiktok --epochs 5
    python benchmarks/hidden_scale.py --report-only
    python benchmarks/hidden_scale.py --datasets tiktok --noise-scales \
        benchmarks/results/runs/dvib/tiktok_tuned/vbpr_DVIB_a_gamma_r=*/seed*
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, write_report

RESULTS = Path(__file__).resolve().parents[1] / 'benchmarks' / 'results'

SIGMAS = [1e-3, 1e-4]  # the ends of DVIB_c's grid
PHI_INIT = 0.5  # DVIB_a's sigmoid scale near initialisation


def measure(dataset: str, backbones: list[str], epochs: int, seed: int,
            data_root: Path | None) -> list[dict]:
    import torch

    import pyg_mmrec
    from pyg_mmrec.data import load_recipe, modalities
    from pyg_mmrec.ib import hidden_scale
    from pyg_mmrec.registry import get_model_class
    from pyg_mmrec.train import Cell, run_cell

    splits = load_recipe(dataset, root=data_root)
    rows = []
    for name in backbones:
        cls = get_model_class(name)
        if cls.requires_features and not modalities(splits.train):
            continue
        if epochs:
            with tempfile.TemporaryDirectory() as out:
                record = run_cell(Cell(name, dataset, [seed], config={'epochs': epochs}), out,
                                  splits=splits)
                model, _ = pyg_mmrec.load_model(
                    Path(out) / record['runs'][0]['dir'] / 'checkpoint.pt', splits)
        else:
            torch.manual_seed(seed)
            model = cls.from_data(splits.train)
        scale = hidden_scale(model, splits.train)
        rows.append({'dataset': dataset, 'backbone': name, 'epochs': epochs, **scale})
        print(rows[-1], flush=True)
    return rows


def print_noise_scales(dataset: str, runs: list[Path], data_root: Path | None) -> None:
    """Prints the noise scales of the DVIB runs in ``runs`` (folders with a checkpoint)."""
    import pyg_mmrec
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.ib import noise_scale

    splits = load_recipe(dataset, root=data_root)
    print('| run | mean φ | min φ | max φ | median row RMS of H |\n|---|---|---|---|---|')
    for run in runs:
        model, _ = pyg_mmrec.load_model(run / 'checkpoint.pt', splits)
        scale = noise_scale(model, splits.train)
        print(f"| {run} | {scale['mean']:.4f} | {scale['min']:.4f} | {scale['max']:.4f} | "
              f"{scale['rms']:.3f} |")


def format_report(report: dict) -> str:
    """The Markdown report of the measured ``rows``."""
    rows = report['rows']
    lines = ['# Hidden-layer scale', '',
             'Root mean square of the rows of each backbone\'s hidden layer H (the tensors it '
             'passes through its DVIB hook; `pyg_mmrec.ib.hidden_scale`), with seed 2024, and '
             'the noise-to-signal ratios of DVIB\'s absolute noise: σ / median RMS for DVIB_c '
             f'and {PHI_INIT} / median RMS for DVIB_a near initialisation. Epochs: 0 is the '
             'initialisation; otherwise the backbone trained that many epochs with its '
             'defaults.', '',
             '| dataset | backbone | epochs | RMS median | RMS min – max | '
             + ' | '.join(f'σ={s:g} ratio' for s in SIGMAS) + f' | φ={PHI_INIT} ratio |',
             '|' + '---|' * (6 + len(SIGMAS))]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['backbone']} | {r['epochs']} | {r['median']:.4g} "
                     f"| {r['min']:.3g} – {r['max']:.3g} | "
                     + ' | '.join(f"{s / r['median']:.2g}" for s in SIGMAS)
                     + f" | {PHI_INIT / r['median']:.3g} |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    from pyg_mmrec.ib import PlugIn
    from pyg_mmrec.registry import MODELS

    backbones = sorted(n for n, cls in MODELS.items() if not issubclass(cls, PlugIn))
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=['tiktok', 'synthetic'])
    parser.add_argument('--backbones', nargs='+', default=backbones)
    parser.add_argument('--epochs', type=int, default=0,
                        help='train this many epochs first (0: at initialisation)')
    parser.add_argument('--seed', type=int, default=2024)
    parser.add_argument('--noise-scales', nargs='+', type=Path, metavar='RUN',
                        help="print these DVIB runs' noise scales on the first of --datasets "
                             "(nothing is written)")
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    if args.noise_scales:
        print_noise_scales(args.datasets[0], args.noise_scales, args.data_root)
        return

    if args.report_only:
        report = read_report(args.out, 'hidden_scale')
    else:
        report = {'rows': [r for d in args.datasets for r in measure(
            d, args.backbones, args.epochs, args.seed, args.data_root)]}
    table = format_report(report)
    write_report(args.out, 'hidden_scale', report, table)
    print(table)


if __name__ == '__main__':
    main()
