"""BM3 against an independent re-implementation: is its weak ml-100k score a bug?

BM3 loses to BPR-MF on ml-100k-text in the backbones benchmark. This script trains, with the
same seed, learning rate and epoch budget, the library's :class:`pyg_mmrec.nn.models.BM3` and a
separate dense implementation written here from the BM3 paper and its authors' training recipe
(two Xavier-uniform ID tables, one LightGCN layer over a dense normalised adjacency, trainable
copies of the raw features as in their code, a shared linear predictor, dropout targets under
``no_grad``, the cosine losses and their norm regulariser), each with the multimodal terms
(``cl_weight=2``, the default) and without them (``cl_weight=0``, which leaves the negative-free
bootstrap on the ID embeddings alone). Both report the best validation Recall@20 (full ranking,
training items excluded); the reference computes it itself.

Usage::

    python benchmarks/bm3_reference.py            # ml-100k-text, seed 2024, ≤200 epochs
    python benchmarks/bm3_reference.py --report-only

Writes ``benchmarks/results/bm3_reference.{md,json}``; the library's runs are kept under
``benchmarks/results/runs/bm3_reference/`` and resumed if interrupted.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'


def reference_bm3(splits, lr: float, seed: int, epochs: int, patience: int,
                  cl_weight: float, reg_weight: float = 0.1, dropout: float = 0.5,
                  dim: int = 64, batch_size: int = 2048) -> tuple[float, int]:
    """Trains the dense reference BM3; returns its best validation Recall@20 and epoch."""
    train = splits.train
    num_users, num_items = train['user'].num_nodes, train['item'].num_nodes
    edges = train['user', 'interacts', 'item'].edge_index
    held_out = splits.val['user', 'interacts', 'item'].edge_label_index
    relevant = torch.zeros(num_users, num_items, dtype=torch.bool)
    relevant[held_out[0], held_out[1]] = True
    num_relevant = relevant.sum(1)

    torch.manual_seed(seed)
    n = num_users + num_items
    adj = torch.zeros(n, n)
    adj[edges[0], num_users + edges[1]] = adj[num_users + edges[1], edges[0]] = 1.0
    deg = adj.sum(1).clamp_min(1).pow(-0.5)
    adj = deg[:, None] * adj * deg[None, :]
    users = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(num_users, dim)))
    items = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(num_items, dim)))
    features = [torch.nn.Parameter(x.clone()) for k, x in sorted(train['item'].items())
                if k.startswith('x_')]
    projections = torch.nn.ModuleList(torch.nn.Linear(x.size(1), dim) for x in features)
    predictor = torch.nn.Linear(dim, dim)
    for lin in (*projections, predictor):
        torch.nn.init.xavier_normal_(lin.weight)
    optimizer = torch.optim.Adam([users, items, *features, *projections.parameters(),
                                  *predictor.parameters()], lr)

    def forward() -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([users, items])
        mean = (ego + adj @ ego) / 2  # one layer: mean of layers 0 and 1
        return mean[:num_users], mean[num_users:] + items

    def cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1 - F.cosine_similarity(x, y, dim=-1).mean()

    best, best_epoch = -1.0, -1
    for epoch in range(epochs):
        for batch in torch.randperm(edges.size(1)).split(batch_size):
            u, i = edges[0, batch], edges[1, batch]
            user_rep, item_rep = forward()
            modal = [lin(x) for lin, x in zip(projections, features, strict=True)]
            with torch.no_grad():
                user_target = F.dropout(user_rep, dropout)[u]
                item_target = F.dropout(item_rep, dropout)[i]
                modal_target = [F.dropout(z, dropout)[i] for z in modal]
            loss = (cosine(predictor(user_rep)[u], item_target)
                    + cosine(predictor(item_rep)[i], user_target)
                    + reg_weight * (user_rep.norm() + item_rep.norm()) / num_items)
            for z, target in zip(modal, modal_target, strict=True):
                online = predictor(z)[i]
                loss = loss + cl_weight * (cosine(online, item_target) + cosine(online, target))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            user_rep, item_rep = forward()
            scores = predictor(user_rep) @ predictor(item_rep).t()
            scores[edges[0], edges[1]] = -float('inf')
            hits = relevant.gather(1, scores.topk(20, dim=1).indices).sum(1)
            has = num_relevant > 0
            recall = (hits[has] / num_relevant[has]).mean().item()
        if recall > best:
            best, best_epoch = recall, epoch
        elif epoch - best_epoch >= patience:
            break
    return best, best_epoch


def format_report(report: dict) -> str:
    """The Markdown report of the ``rows`` measured with ``settings``."""
    args = report['settings']
    lines = ['# BM3 against an independent implementation', '',
             f"{args['data']}, seed {args['seed']}, lr {args['lr']}, ≤{args['max_epochs']} "
             f"epochs, patience {args['patience']}; best validation Recall@20.", '',
             '| implementation | cl_weight | valid Recall@20 | best epoch |', '|---|---|---|---|']
    lines += [f"| {r['implementation']} | {r['cl_weight']:g} | {r['valid_recall20']:.4f} "
              f"| {r['best_epoch']} |" for r in report['rows']]
    return '\n'.join(lines) + '\n'


def main() -> None:
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import Cell, run_cell

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='ml-100k-text', help='a dataset recipe')
    parser.add_argument('--seed', type=int, default=2024)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--max-epochs', type=int, default=200)
    parser.add_argument('--patience', type=int, default=20)
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    if args.report_only:
        report = read_report(args.out, 'bm3_reference')
    else:
        splits = load_recipe(args.data, root=args.data_root,
                             text_cache=ROOT / 'runs' / 'text-cache')
        rows = []
        for cl_weight in (2.0, 0.0):
            config = {'epochs': args.max_epochs, 'patience': args.patience, 'lr': args.lr,
                      'cl_weight': cl_weight}
            record = run_cell(Cell('bm3', args.data, [args.seed], config=config),
                              args.out / 'runs' / 'bm3_reference' / f'cl{cl_weight:g}',
                              splits=splits)
            ours = record['runs'][0]
            rows.append({'implementation': 'pyg_mmrec BM3', 'cl_weight': cl_weight,
                         'valid_recall20': ours['valid']['Recall@20'],
                         'best_epoch': ours['best_epoch']})
            recall, epoch = reference_bm3(splits, args.lr, args.seed, args.max_epochs,
                                          args.patience, cl_weight)
            rows.append({'implementation': 'independent dense reference',
                         'cl_weight': cl_weight, 'valid_recall20': recall, 'best_epoch': epoch})
            for row in rows[-2:]:
                print(row, flush=True)
        settings = {k: getattr(args, k) for k in ('data', 'seed', 'lr', 'max_epochs', 'patience')}
        report = {'settings': settings, 'rows': rows}
    table = format_report(report)
    write_report(args.out, 'bm3_reference', report, table)
    print(table)


if __name__ == '__main__':
    main()
