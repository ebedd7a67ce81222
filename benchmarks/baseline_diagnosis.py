"""DualGNN, BUIR, SGFD and InvRL against their references on tiktok, per variant (issue 21:
seed-paper baselines far below their published standing).

In the backbones benchmark DualGNN scored 0.0599 on tiktok, 0.66 of LightGCN's 0.0908, whereas
MSI's Table 2 (Amazon Baby) has it at 0.95 of LightGCN, and its validation Recall@20 peaked
within the first epochs while the training loss kept falling; BUIR scored 0.0720, 0.79 of
LightGCN (0.85 to 1.05 in MSI's Table 2); SGFD on LATTICE scored 0.0886, below bare LATTICE
(0.0979), which IBMRec's Table 2 has every denoiser beat. This trains each variant with one
seed at a time (:meth:`~pyg_mmrec.train.Trainer.fit`: validation Recall@20 after every epoch,
early stop after ``--patience`` epochs without a new best, the benchmark's rule) and prints one
row per variant and seed: the best epoch (counted from 1), its validation Recall@20, the test
Recall@20 at that epoch, and the validation Recall@20 after the first and the last epoch:

* ``selected``: DualGNN at the point its first cell selected (learning rate 5e-3, L2 weight
  1e-4, 40 neighbours);
* ``lr1e-4``: learning rate 1e-4 (in MMRec's DualGNN grid, below the benchmark's);
* ``image``: the image features only (MMRec's DualGNN reads the visual and textual features;
  tiktok here has image and audio);
* ``audio``: the audio features only;
* ``image_lr1e-4``: the image features only at learning rate 1e-4;
* ``frozen_mlp``: the feature MLPs never trained, so the items' representations are fixed
  random projections of their content;
* ``buir``: BUIR at the point its cell selected (learning rate 1e-3, momentum 0.995, no L2),
  whose augmentation drops a share r ~ U(0, 1) of the interactions per view and step;
* ``buir_drop0.2``: r ~ U(0, 0.2), the authors' code's ratio;
* ``buir_drop0``: no augmentation (the authors' code's default, ``drop_flag=False``);
* ``sgfd``: SGFD on LATTICE at the point its cell selected (learning rate 1e-3, L2 weight
  1e-4, distillation weight 0.1), with LATTICE's default 10 neighbours;
* ``sgfd_k20``: the same with 20 neighbours, the value LATTICE's cell selected;
* ``invrl`` / ``invrl_mask_reg0``: InvRL at the point its cell selected (learning rate 1e-3,
  L2 weight 1e-3, invariance weight 100), with its mask regulariser at 0.1 (the default) and
  at 0; the gates' parameters mu per modality are printed after training;
* ``lattice``: LATTICE at the point its cell selected (learning rate 1e-3, L2 weight 1e-3,
  20 neighbours);
* ``lattice_invrl_mask``: the same LATTICE on InvRL's invariant features, the tiktok features
  masked by the gates the InvRL cell learned with the same seed (its checkpoint,
  ``--invrl-runs``; :meth:`~pyg_mmrec.nn.models.InvRL.feature_masks` and
  :class:`~pyg_mmrec.transforms.MaskFeatures`): InvRL deployed on LATTICE, as IBMRec's Table 2
  runs it (the gates' mean, spread, minimum and maximum are printed first);
* ``lattice_invrl_select``: the same with each modality's gates divided by their mean, so
  that the mask selects among the dimensions without shrinking the features as a whole;
* ``lightgcn``: LightGCN at the point its cell selected, the reference.

``--set key=value`` adds settings to every variant. Nothing is written; a DualGNN epoch takes
about 6 s on one thread.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/baseline_diagnosis.py
    OMP_NUM_THREADS=1 python benchmarks/baseline_diagnosis.py --variants image lightgcn
    OMP_NUM_THREADS=1 python benchmarks/baseline_diagnosis.py --variants buir buir_drop0.2 \\
        buir_drop0 --max-epochs 80
    OMP_NUM_THREADS=1 python benchmarks/baseline_diagnosis.py --variants sgfd sgfd_k20 lattice \\
        --max-epochs 100 --patience 20
    OMP_NUM_THREADS=1 python benchmarks/baseline_diagnosis.py --variants lattice_invrl_mask \\
        --seeds 2025 2026 --max-epochs 100 --patience 20
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

#: The backbones benchmark's InvRL runs on tiktok (``seed<N>/checkpoint.pt``).
INVRL_RUNS = (Path(__file__).resolve().parent / 'results' / 'runs' / 'backbones'
              / 'tiktok_invrl')

SELECTED = {'lr': 5e-3, 'reg_weight': 1e-4, 'knn_k': 40}
BUIR = {'lr': 1e-3, 'reg_weight': 0.0, 'momentum': 0.995}
INVRL = {'lr': 1e-3, 'reg_weight': 1e-3, 'irm_weight': 100.0}
SGFD = {'backbone': 'lattice', 'lr': 1e-3, 'reg_weight': 1e-4, 'kd_weight': 0.1}
LATTICE = {'lr': 1e-3, 'reg_weight': 1e-3, 'knn_k': 20}
VARIANTS = {
    'selected': ('dualgnn', SELECTED, None),
    'lr1e-4': ('dualgnn', {**SELECTED, 'lr': 1e-4}, None),
    'image': ('dualgnn', SELECTED, ('image',)),
    'audio': ('dualgnn', SELECTED, ('audio',)),
    'image_lr1e-4': ('dualgnn', {**SELECTED, 'lr': 1e-4}, ('image',)),
    'frozen_mlp': ('dualgnn', SELECTED, None),
    'buir': ('buir', BUIR, None),
    'buir_drop0.2': ('buir', {**BUIR, 'drop_ratio': 0.2}, None),
    'buir_drop0': ('buir', {**BUIR, 'drop_ratio': 0.0}, None),
    'sgfd': ('sgfd', SGFD, None),
    'sgfd_k20': ('sgfd', {**SGFD, 'knn_k': 20}, None),
    'invrl': ('invrl', INVRL, None),
    'invrl_mask_reg0': ('invrl', {**INVRL, 'mask_reg': 0.0}, None),
    'lattice': ('lattice', LATTICE, None),
    'lattice_invrl_mask': ('lattice', LATTICE, None),
    'lattice_invrl_select': ('lattice', LATTICE, None),
    'lightgcn': ('lightgcn', {'lr': 5e-3, 'reg_weight': 1e-4, 'num_layers': 3}, None),
}


@functools.cache
def tiktok(root: str | None, keep: tuple[str, ...] | None):
    """The tiktok splits with the modalities ``keep`` (all: :obj:`None`), loaded once."""
    from pyg_mmrec.data import load_recipe
    return load_recipe('tiktok', root=root, keep_modalities=list(keep) if keep else None)


def spread(values) -> str:
    """Mean, standard deviation, minimum and maximum of a tensor, for the printed gates."""
    return (f'mean {values.mean():+.4f}, std {values.std():.4f}, min {values.min():+.4f}, '
            f'max {values.max():+.4f}')


def invariant_features(splits, checkpoint: Path, mean_one: bool = False):
    """``splits`` with their features masked by the gates of the InvRL ``checkpoint``
    (with ``mean_one``, each modality's gates divided by their mean)."""
    from pyg_mmrec.data import DataSplits
    from pyg_mmrec.train import load_model
    from pyg_mmrec.transforms import MaskFeatures

    invrl, _ = load_model(checkpoint, splits)
    masks = invrl.feature_masks()
    for m, gate in masks.items():
        print(f'InvRL gates, {m}: {spread(gate)} ({checkpoint})', flush=True)
    if mean_one:
        masks = {m: gate / gate.mean() for m, gate in masks.items()}
    return DataSplits(*map(MaskFeatures(masks), splits))


def run(variant: str, seed: int, max_epochs: int, patience: int, extra: dict, root: str | None,
        invrl_runs: Path = INVRL_RUNS) -> tuple[int, float, float, float, float]:
    """``(best epoch counted from 1, its validation Recall@20, its test Recall@20, first and
    last validation Recall@20)`` of one variant."""
    from pyg_mmrec.train import make_trainer

    model, hparams, keep = VARIANTS[variant]
    splits = tiktok(root, keep)
    if variant.startswith('lattice_invrl'):
        splits = invariant_features(splits, invrl_runs / f'seed{seed}' / 'checkpoint.pt',
                                    mean_one=variant == 'lattice_invrl_select')
    config = {'threads': 1, 'progress': False, 'seed': seed, 'epochs': max_epochs,
              'patience': patience, **hparams, **extra}
    trainer = make_trainer(model, splits, config)
    if variant == 'frozen_mlp':
        trainer.model.mlp.requires_grad_(False)
    result = trainer.fit()
    if model == 'invrl':  # where the gates ended (the best epoch's state)
        for m, mu in trainer.model.gate.items():
            print(f'{variant} seed {seed}, gates mu of {m}: {spread(mu)}', flush=True)
    curve = [record['valid']['Recall@20'] for record in trainer.history]
    return (result['best_epoch'] + 1, result['valid']['Recall@20'], result['test']['Recall@20'],
            curve[0], curve[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--max-epochs', type=int, default=40)
    parser.add_argument('--patience', type=int, default=10)
    parser.add_argument('--root', help='data root holding tiktok/ (default: the library\'s)')
    parser.add_argument('--invrl-runs', type=Path, default=INVRL_RUNS,
                        help='folder of the InvRL runs whose seed<N>/checkpoint.pt gives '
                             'lattice_invrl_mask its gates')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='a setting added to every variant (YAML value)')
    args = parser.parse_args(argv)
    from pyg_mmrec.train import parse_overrides
    extra = parse_overrides(args.set)

    print(f"{'variant':<12} {'seed':>5} {'epoch':>6} {'val R@20':>9} {'test R@20':>10} "
          f"{'val first':>10} {'val last':>9}")
    for variant in args.variants:
        for seed in args.seeds:
            epoch, val, test, first, last = run(variant, seed, args.max_epochs, args.patience,
                                                extra, args.root, args.invrl_runs)
            print(f'{variant:<12} {seed:>5} {epoch:>6} {val:>9.4f} {test:>10.4f} {first:>10.4f} '
                  f'{last:>9.4f}', flush=True)


if __name__ == '__main__':
    main()
