"""Memory and time of building a modality kNN item graph without a dense N x N matrix.

Builds the top-k cosine graph of random float32 features with
:class:`pyg_mmrec.transforms.ModalityKNNGraph` (chunked) at full size, and compares it at a
smaller size with a dense reference (the full N x N similarity matrix, then top-k), which is
what implementations that rebuild the item graph densely do. Every measurement runs in its own
process so that its peak resident memory is its own
(:func:`pyg_mmrec.train.run_isolated`). Results go to ``benchmarks/results/knn_graph.{md,json}``;
``--report-only`` rebuilds the Markdown from the JSON.

Usage::

    python benchmarks/knn_graph.py                         # 63,000 x 4096, reference at 8,000
    python benchmarks/knn_graph.py --items 20000 --dim 512
    python benchmarks/knn_graph.py --report-only
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, run_isolated, write_report

RESULTS = Path(__file__).resolve().parents[1] / 'benchmarks' / 'results'


def measure(method: str, items: int, dim: int, k: int, chunk: int) -> dict:
    """Runs in a child process: builds the graph once, reports seconds and peak memory."""
    import resource

    import torch
    from torch_geometric.data import HeteroData

    from pyg_mmrec.transforms import ModalityKNNGraph

    x = torch.randn(items, dim, generator=torch.Generator().manual_seed(0))
    features_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if method == 'chunked':
        data = HeteroData()
        data['item'].x_image = x
        data['item'].num_nodes = items
        edges = ModalityKNNGraph(k=k, chunk_size=chunk)(data)['item', 'knn_image', 'item']
        num_edges = edges.edge_index.size(1)
    else:  # dense reference: the whole similarity matrix at once
        xn = torch.nn.functional.normalize(x, dim=1)
        sim = xn @ xn.t()
        sim.fill_diagonal_(float('-inf'))
        num_edges = torch.topk(sim, k, dim=1).indices.numel()
    seconds = time.perf_counter() - start
    return {'method': method, 'items': items, 'dim': dim, 'k': k, 'seconds': seconds,
            'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'features_mib': features_rss, 'edges': num_edges}


def format_report(report: dict) -> str:
    """The Markdown report of the measured ``rows`` (dense, chunked at the same size, chunked at
    full size)."""
    rows, chunk = report['rows'], report['chunk']
    dense, small, full = rows
    k, ref_items, items = dense['k'], dense['items'], full['items']
    lines = [
        '# Modality kNN graph: memory and time', '',
        f'Random float32 features, k = {k}, chunk size {chunk}; one process per row '
        '(peak resident memory includes the Python / PyTorch runtime and the features; the '
        'chunked graph is symmetrised, so it has more than k edges per item).', '',
        '| method | items x dim | seconds | peak MiB | features MiB | edges |',
        '|---|---|---|---|---|---|',
    ]
    lines += [f"| {r['method']} | {r['items']} x {r['dim']} | {r['seconds']:.1f} "
              f"| {r['peak_mib']:.0f} | {r['features_mib']:.0f} | {r['edges']} |" for r in rows]
    extra = lambda r: r['peak_mib'] - r['features_mib']  # noqa: E731
    lines += ['', f"At {ref_items} items the dense reference needs "
              f"{extra(dense) / max(extra(small), 1):.1f}x the memory above the features of the "
              f"chunked build ({extra(dense):.0f} vs {extra(small):.0f} MiB) and "
              f"{dense['seconds'] / small['seconds']:.2f}x its time. A dense {items} x "
              f"{items} float32 matrix alone would take "
              f"{items ** 2 * 4 / 2 ** 30:.1f} GiB; the chunked build peaks at "
              f"{full['peak_mib'] / 1024:.2f} GiB.", '']
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--items', type=int, default=63000)
    parser.add_argument('--dim', type=int, default=4096)
    parser.add_argument('--k', type=int, default=10)
    parser.add_argument('--chunk', type=int, default=1024)
    parser.add_argument('--ref-items', type=int, default=8000,
                        help='size at which the dense reference is compared')
    add_benchmark_arguments(parser, RESULTS, data_root=False)
    args = parser.parse_args()

    if args.report_only:
        report = read_report(args.out, 'knn_graph')
    else:
        rows = []
        for method, items in (('dense', args.ref_items), ('chunked', args.ref_items),
                              ('chunked', args.items)):
            print(f'== {method} {items} x {args.dim}', flush=True)
            rows.append(run_isolated(f'{__file__}:measure', {
                'method': method, 'items': items, 'dim': args.dim, 'k': args.k,
                'chunk': args.chunk}))
        report = {'rows': rows, 'chunk': args.chunk}
    table = format_report(report)
    write_report(args.out, 'knn_graph', report, table)
    print(table)


if __name__ == '__main__':
    main()
