"""Bring your own text: MovieLens-100K titles, years and genres as a text modality.

Encodes each movie's text ("Toy Story (1995): Animation Children's Comedy") with
all-MiniLM-L6-v2 (offline, from the ``text`` extra), caches the encoding so that it runs once,
adds a top-10 cosine item graph (for the graph-based backbones; the two models here do not use
it), and trains VBPR (which uses the text features) next to LightGCN (which does not). Measured
once (seed 2024, defaults, about 2.5 minutes): test Recall@20 0.3815 for LightGCN, 0.3475 for
VBPR.

    pip install torch==2.13.0 -e ".[text]"
    python examples/ml100k_text.py [path/to/ml-100k]
"""
import sys
from pathlib import Path

import pyg_mmrec
from pyg_mmrec.cli import format_metrics
from pyg_mmrec.data import DataSplits, load_movielens100k
from pyg_mmrec.transforms import EncodeText, ModalityKNNGraph

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / '..' / 'shared'
            / 'data' / 'ml-100k')
splits = load_movielens100k(root, seed=2024)  # seeded 8:1:1 split per user
encode = EncodeText(cache_dir=Path('runs') / 'text-cache')  # encodes once, then reads .npy
knn = ModalityKNNGraph(k=10)
splits = DataSplits(*(knn(encode(view)) for view in splits))
print(splits.summary())
print(f'texts encoded in this run: {encode.num_encoded} (0 when cached)')

config = {'progress': False, 'lr': 1e-3}
results = {name: pyg_mmrec.run(name, splits, config) for name in ('lightgcn', 'vbpr')}
print(format_metrics({name: r['test'] for name, r in results.items()}, ks=[10, 20]))
