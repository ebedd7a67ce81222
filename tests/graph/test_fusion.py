import torch

from pyg_mmrec.graph import fuse_item_graphs


def test_fused_graph_is_the_weighted_sum_over_the_union_of_edges():
    g1 = (torch.tensor([[0, 1, 2], [1, 0, 3]]), torch.tensor([1.0, 2.0, 3.0]))
    g2 = (torch.tensor([[1, 3], [0, 2]]), torch.tensor([10.0, 20.0]))
    edge_index, edge_weight = fuse_item_graphs([g1, g2], torch.tensor([0.5, 0.1]), 4)
    fused = dict(zip(map(tuple, edge_index.t().tolist()), edge_weight.tolist(), strict=True))
    assert fused == {(0, 1): 0.5, (1, 0): 1.0 + 1.0, (2, 3): 1.5, (3, 2): 2.0}


def test_fused_graph_is_differentiable_in_weights_and_edge_weights():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    ew1, ew2 = torch.rand(3, requires_grad=True), torch.rand(3, requires_grad=True)
    weights = torch.tensor([0.3, 0.7], requires_grad=True)
    edge_index, edge_weight = fuse_item_graphs([(ei, ew1), (ei.flip(0), ew2)], weights, 3)
    # Coalesced in row-major order: (0,1) (0,2) (1,0) (1,2) (2,0) (2,1).
    assert edge_index.tolist() == [[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]]
    (edge_weight * torch.arange(1.0, 7.0)).sum().backward()
    c1, c2 = torch.tensor([1.0, 4.0, 5.0]), torch.tensor([3.0, 6.0, 2.0])
    assert torch.allclose(ew1.grad, 0.3 * c1) and torch.allclose(ew2.grad, 0.7 * c2)
    expected = torch.stack([(ew1 * c1).sum(), (ew2 * c2).sum()]).detach()
    assert torch.allclose(weights.grad, expected)
