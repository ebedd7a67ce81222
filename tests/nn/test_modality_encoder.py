import torch

from pyg_mmrec.nn import ModalityEncoder


def test_sum_of_projections_equals_projection_of_concatenation():
    enc = ModalityEncoder({'image': 5, 'text': 3}, out_dim=4)
    feats = {'image': torch.randn(7, 5), 'text': torch.randn(7, 3)}
    reps = enc(feats)
    assert reps['image'].shape == (7, 4) and reps['text'].shape == (7, 4)
    weight = torch.cat([enc.proj['image'].weight, enc.proj['text'].weight], dim=1)
    bias = enc.proj['image'].bias + enc.proj['text'].bias
    concat = torch.cat([feats['image'], feats['text']], dim=1)
    assert torch.allclose(ModalityEncoder.fuse(reps), concat @ weight.t() + bias, atol=1e-6)
