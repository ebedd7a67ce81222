import pytest
import torch

from pyg_mmrec import registry
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib import PlugIn
from pyg_mmrec.nn.models import Capability
from pyg_mmrec.train.config import split_config


class Scaled(PlugIn):
    """A plug-in that scales the backbone's loss (for the tests)."""
    def __init__(self, backbone, factor: float = 2.0):
        super().__init__(backbone)
        self.factor = factor

    def batch_loss(self, out, user, pos, neg):
        losses = super().batch_loss(out, user, pos, neg)
        return {**losses, 'loss': self.factor * losses['loss']}


class NeedsItemGraph(Scaled):
    required_capabilities = (frozenset({Capability.ITEM_GRAPH}),)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(registry.MODELS, 'scaled', Scaled)
    monkeypatch.setitem(registry.MODELS, 'needsitemgraph', NeedsItemGraph)


def test_flat_hyper_parameters_reach_plugin_and_backbone(tiny_splits, registered):
    config = {'backbone': 'lightgcn', 'num_layers': 3, 'factor': 0.5, 'lr': 0.01}
    train_config, hparams = split_config(config, Scaled.hparam_defaults(config), 'scaled')
    assert train_config.lr == 0.01
    model = Scaled.from_data(tiny_splits.train, **hparams)
    assert model.factor == 0.5 and model.backbone.num_layers == 3
    assert model.hparams['backbone'] == 'lightgcn' and model.hparams['num_layers'] == 3
    with pytest.raises(ConfigError, match='num_heads'):
        split_config({**config, 'num_heads': 2}, Scaled.hparam_defaults(config), 'scaled')


def test_delegates_forward_and_scales_loss(tiny_splits, registered):
    torch.manual_seed(0)
    model = Scaled.from_data(tiny_splits.train, backbone='lightgcn', factor=3.0)
    user, item = model(tiny_splits.train)
    ref_user, ref_item = model.backbone(tiny_splits.train)
    assert torch.equal(user, ref_user) and torch.equal(item, ref_item)
    batch = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5])
    ours = model.loss(tiny_splits.train, *batch)['loss']
    theirs = model.backbone.loss(tiny_splits.train, *batch)['loss']
    assert torch.allclose(ours, 3.0 * theirs)


def test_unsupported_or_plugin_backbones_are_refused(registered):
    with pytest.raises(ConfigError, match=r"'vbpr' lacks \(item_graph\) \(backbones that "
                                          r"have them: \['freedom', 'lattice', 'micro', "
                                          r"'vlattice'\]"):
        NeedsItemGraph.hparam_defaults({'backbone': 'vbpr'})
    with pytest.raises(ConfigError, match='itself a plug-in'):
        Scaled.hparam_defaults({'backbone': 'scaled'})
    with pytest.raises(ConfigError, match='unknown backbone'):
        Scaled.hparam_defaults({'backbone': 'nope'})


def test_checkpoint_round_trip(tiny_splits, registered, tmp_path):
    from pyg_mmrec.train import load_model, run
    run('scaled', tiny_splits, {'backbone': 'lightgcn', 'factor': 0.5, 'num_layers': 1,
                                'epochs': 2, 'progress': False}, out_dir=tmp_path)
    model, ckpt = load_model(tmp_path / 'checkpoint.pt', tiny_splits)
    assert isinstance(model, Scaled) and model.factor == 0.5
    assert model.backbone.num_layers == 1 and ckpt['hparams']['backbone'] == 'lightgcn'


def test_plugins_forward_the_backbones_hooks(tiny_splits, registered):
    from pyg_mmrec.ib import hidden_scale
    torch.manual_seed(0)
    model = Scaled.from_data(tiny_splits.train, backbone='lightgcn').eval()
    clean = model.encode(tiny_splits.train)
    with model.perturb_hidden(lambda h: h + 1.0):  # reaches the backbone's H
        shifted = model.encode(tiny_splits.train)
    assert torch.allclose(shifted.hidden, clean.hidden + 1.0)
    assert not torch.allclose(shifted.item, clean.item)
    assert hidden_scale(model, tiny_splits.train) == hidden_scale(model.backbone,
                                                                  tiny_splits.train)
    # the item-graph hook, on a backbone that has an item graph
    graph_model = NeedsItemGraph.from_data(tiny_splits.train, backbone='freedom').eval()
    clean = graph_model.encode(tiny_splits.train)
    with graph_model.perturb_item_graph(lambda ei, w, c, m: torch.zeros_like(w)):
        cut = graph_model.encode(tiny_splits.train)
    assert torch.equal(cut.item_graph[1], torch.zeros_like(clean.item_graph[1]))
    assert not torch.allclose(cut.item, clean.item)


def test_supported_backbones_follow_from_capabilities():
    supported = NeedsItemGraph.supported_backbones()
    assert supported == sorted(name for name, cls in registry.MODELS.items()
                               if Capability.ITEM_GRAPH in cls.capabilities)
    assert {'freedom', 'lattice', 'vlattice'} <= set(supported)
    assert 'lightgcn' in Scaled.supported_backbones()  # requires nothing
