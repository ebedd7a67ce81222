"""SGL's contrastive loss with four choices of anchors and negatives, side by side.

The diagnosis of SGL's failure on tiktok (``docs/benchmarks/backbones.rst``): the library's
first SGL contrasted a batch's distinct users and items with each other only, and at the
paper's learning rate its BPR loss stayed at ln 2. This script trains SGL with each variant of
its InfoNCE (patched into :meth:`~pyg_mmrec.nn.models.SGL.ssl_loss`) and prints the mean
training loss, the InfoNCE term and validation Recall@20 after every epoch:

* ``distinct-inbatch``: the batch's distinct users (items) as anchors and as each other's
  negatives (the first version);
* ``repeated-inbatch``: every interaction's user and item as anchors, the batch's as negatives;
* ``distinct-all``: distinct anchors, all users (items) of the other view as negatives;
* ``authors``: every interaction's user and item as anchors, all nodes as negatives (the
  authors' SGL-Torch, and :class:`~pyg_mmrec.nn.models.SGL` now).

With ``--gradients`` it prints instead, for the first batch at initialisation, the norms of
the BPR term's and the weighted InfoNCE term's gradients on the layer-0 embeddings and their
ratio (why the BPR loss stays at ln 2 for the first epochs: Adam scales each step by the
larger one).

Nothing is written. Usage::

    python benchmarks/sgl_negatives.py                      # tiktok, lr 1e-3, 8 epochs
    python benchmarks/sgl_negatives.py --data synthetic --epochs 2 --variants authors
    python benchmarks/sgl_negatives.py --data ml-100k-text --variants authors --epochs 150 \
        --ssl-weight 0.05                                   # through the slow start
    python benchmarks/sgl_negatives.py --data ml-100k-text --gradients
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.nn.models import SGL


def distinct_inbatch(model: SGL, views, user, pos):
    first, second = views
    nodes = [user.unique(), model.num_users + pos.unique()]
    return sum(MF.info_nce(first[n], second[n], model.ssl_temperature) for n in nodes)


def repeated_inbatch(model: SGL, views, user, pos):
    first, second = views
    nodes = [user, model.num_users + pos]
    return sum(MF.info_nce(first[n], second[n], model.ssl_temperature) for n in nodes)


def distinct_all(model: SGL, views, user, pos):
    first, second = views
    users, items = second[:model.num_users], second[model.num_users:]
    u, i = user.unique(), pos.unique()
    return (MF.info_nce_candidates(first[u], users, u, model.ssl_temperature)
            + MF.info_nce_candidates(first[model.num_users + i], items, i,
                                     model.ssl_temperature))


VARIANTS = {'distinct-inbatch': distinct_inbatch, 'repeated-inbatch': repeated_inbatch,
            'distinct-all': distinct_all, 'authors': SGL.ssl_loss}


def gradient_norms(trainer) -> dict[str, float]:
    """Norms of the gradients of the BPR and the (weighted) InfoNCE terms on the layer-0
    embeddings, for the first batch of ``trainer``'s first epoch."""
    model, data = trainer.model, trainer.splits.train
    model.train()
    model.on_epoch_start(0)
    trainer.loader.set_epoch(0)
    user, pos, neg = next(iter(trainer.loader))
    losses = model.batch_loss(model.encode(data), user, pos, neg)
    return {term: float(torch.autograd.grad(losses[term], model.embedding.weight,
                                            retain_graph=True)[0].norm())
            for term in ('bpr', 'ssl')}


def main() -> None:
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import make_trainer

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='tiktok')
    parser.add_argument('--data-root', type=Path)
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--ssl-weight', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=2024)
    parser.add_argument('--gradients', action='store_true',
                        help='print the two terms\' gradient norms at initialisation instead')
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = load_recipe(args.data, root=args.data_root)
    if args.gradients:
        norms = gradient_norms(make_trainer('sgl', splits, {
            'ssl_weight': args.ssl_weight, 'seed': args.seed, 'progress': False}))
        print(f"{args.data}: |grad BPR| {norms['bpr']:.3g}, |grad InfoNCE| {norms['ssl']:.3g}, "
              f"ratio {norms['ssl'] / norms['bpr']:.0f}")
        return
    original = SGL.ssl_loss
    print('| variant | epoch | loss | ssl | valid Recall@20 |\n|---|---|---|---|---|')
    for name in args.variants:
        SGL.ssl_loss = VARIANTS[name]
        try:
            trainer = make_trainer('sgl', splits, {
                'lr': args.lr, 'ssl_weight': args.ssl_weight, 'seed': args.seed,
                'threads': 1, 'progress': False})
            torch.manual_seed(args.seed)
            for epoch in range(args.epochs):
                losses = trainer.train_epoch()
                trainer.epoch += 1
                recall = trainer.evaluate('val')['Recall@20']
                print(f"| {name} | {epoch} | {losses['loss']:.3f} | {losses.get('ssl', 0):.3f} "
                      f"| {recall:.4f} |", flush=True)
        finally:
            SGL.ssl_loss = original


if __name__ == '__main__':
    main()
