import pytest
import torch

from pyg_mmrec.data import DataSplits
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.schema import graph_type, modalities
from pyg_mmrec.train import make_trainer
from pyg_mmrec.transforms import ModalityKNNGraph, SelectModalities


def test_keeps_the_named_modalities_with_their_graphs(tiny_splits):
    data = ModalityKNNGraph(k=3)(tiny_splits.train.clone())
    both = modalities(data)
    assert len(both) >= 2, both
    keep, drop = both[0], both[1:]
    kept = data['item'][f'x_{keep}'].clone()
    out = SelectModalities(keep)(data)
    assert modalities(out) == [keep]
    assert torch.equal(out['item'][f'x_{keep}'], kept)
    assert graph_type(keep) in out.edge_types
    assert not any(graph_type(m) in out.edge_types for m in drop)
    # The interactions are untouched.
    assert torch.equal(out['user', 'interacts', 'item'].edge_index,
                       tiny_splits.train['user', 'interacts', 'item'].edge_index)


def test_a_model_sizes_itself_to_the_modalities_left(tiny_splits):
    keep = modalities(tiny_splits.train)[0]
    splits = DataSplits(*map(SelectModalities([keep]), map(lambda d: d.clone(), tiny_splits)))
    model = make_trainer('vbpr', splits, {'epochs': 1, 'progress': False}).model
    assert list(model.encoder.feature_dims) == [keep]


def test_unknown_or_empty_modalities_are_refused(tiny_splits):
    with pytest.raises(ConfigError, match="no modality 'smell'; it has"):
        SelectModalities(['smell'])(tiny_splits.train.clone())
    with pytest.raises(ConfigError, match='one modality or more'):
        SelectModalities([])
