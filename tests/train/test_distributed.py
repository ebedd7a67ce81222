import json

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.nn.models import LightGCN
from pyg_mmrec.train import TrainConfig, Trainer, load_checkpoint


def _worker(rank: int, world_size: int, folder: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{folder}/rendezvous', rank=rank,
                            world_size=world_size)
    torch.set_num_threads(1)
    splits = make_synthetic(num_users=120, num_items=80, mean_interactions=12, seed=7)
    torch.manual_seed(0)  # same initial replica on every rank
    model = LightGCN.from_data(splits.train, embedding_dim=8)
    if rank == 0:
        torch.save(model.embedding.weight.detach().clone(), f'{folder}/rank_init.pt')
    config = TrainConfig(epochs=3, batch_size=128, lr=0.01, progress=False)
    trainer = Trainer(model, splits, config, out_dir=f'{folder}/out' if rank == 0 else None,
                      rank=rank, world_size=world_size)
    trainer.fit()
    if rank == 1:  # rank 0 has restored its best state; rank 1 holds the last one
        torch.save(model.embedding.weight.detach(), f'{folder}/rank1.pt')
    dist.destroy_process_group()


def test_two_ranks_stay_in_sync_and_rank0_reports(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert results['epochs_run'] == 3 and 'Recall@20' in results['test']
    log = (tmp_path / 'out' / 'log.jsonl').read_text().splitlines()
    assert [json.loads(line)['epoch'] for line in log] == [0, 1, 2]
    # Averaged gradients keep the replicas identical: rank 1's final weights equal the last
    # state rank 0 checkpointed (before restoring its best one).
    last = load_checkpoint(tmp_path / 'out' / 'checkpoint.pt')['last_state']
    w1 = torch.load(tmp_path / 'rank1.pt')
    assert torch.equal(last['embedding.weight'], w1)
    assert not torch.equal(w1, torch.load(tmp_path / 'rank_init.pt'))  # it did train
