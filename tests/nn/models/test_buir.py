import torch

from pyg_mmrec.nn.models import BUIR
from pyg_mmrec.train import make_trainer


def test_target_is_a_momentum_average_that_receives_no_gradient(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = BUIR.from_data(data, embedding_dim=16, momentum=0.9)
    assert torch.equal(model.target_embedding, model.embedding.weight)  # starts as a copy
    assert all(p is not model.target_embedding for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    user, pos = data['user', 'interacts', 'item'].edge_index[:, :128]
    for _ in range(3):
        target = model.target_embedding.clone()
        loss = model.loss(data, user, pos, pos)['loss']
        optimizer.zero_grad()
        loss.backward()
        assert not model.target_embedding.requires_grad
        assert model.target_embedding.grad is None
        optimizer.step()
        assert torch.equal(model.target_embedding, target)  # the optimiser leaves it alone
        model.on_step_end()
        online = model.embedding.weight.detach()
        assert torch.allclose(model.target_embedding, 0.9 * target + 0.1 * online, atol=1e-7)
    assert not torch.allclose(model.target_embedding, online)


def test_trainer_updates_the_target_once_per_step(tiny_splits):
    trainer = make_trainer('buir', tiny_splits, {'epochs': 1, 'batch_size': 256,
                                                 'progress': False, 'embedding_dim': 8})
    calls = []
    step_end = trainer.model.on_step_end
    trainer.model.on_step_end = lambda: (calls.append(torch.is_grad_enabled()), step_end())
    start = trainer.model.target_embedding.clone()
    trainer.train_epoch()
    assert calls == [False] * len(trainer.loader)
    assert not torch.equal(trainer.model.target_embedding, start)


def test_augmented_views_differ_and_inference_uses_the_full_graph(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = BUIR.from_data(data, embedding_dim=16)
    first, second = model.augmented_adjacency(data), model.augmented_adjacency(data)
    assert first.values().numel() != second.values().numel()
    dense = first.to_dense()
    assert torch.equal(dense, dense.t())  # symmetric, as LightGCNConv requires
    model.eval()
    a, b = model(data), model(data)
    assert torch.equal(a[0], b[0])
