from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.data.splits import INTERACTS


class Recommender(torch.nn.Module):
    r"""Base class of every recommendation model.

    A model maps the training view of a dataset (a :class:`~torch_geometric.data.HeteroData`
    whose ``('user', 'interacts', 'item')`` ``edge_index`` holds the training interactions) to
    user and item representations, and scores a user-item pair by their inner product:

    .. math::
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i .

    Subclasses implement :meth:`forward` and usually inherit :meth:`loss` (BPR plus L2 on the
    layer-0 embeddings of the batch, see :meth:`ego_embeddings`); models with other objectives
    override it. Subclasses store every constructor argument as an attribute of the same name,
    so that :attr:`hparams` can list them and a checkpoint can rebuild the model with
    :meth:`from_data`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
    """
    def __init__(self, num_users: int, num_items: int):
        super().__init__()
        self.num_users = num_users
        self.num_items = num_items

    @classmethod
    def hparam_defaults(cls) -> dict[str, Any]:
        """The model's hyper-parameters (constructor arguments not derived from the data)
        with their defaults."""
        params = inspect.signature(cls.__init__).parameters
        return {k: p.default for k, p in params.items()
                if k not in ('self', 'num_users', 'num_items')
                and p.kind is p.POSITIONAL_OR_KEYWORD}

    @classmethod
    def from_data(cls, data: HeteroData, **hparams) -> Recommender:
        """Builds the model for ``data`` (sizes read from it) with the given
        hyper-parameters."""
        return cls(num_users=data['user'].num_nodes, num_items=data['item'].num_nodes, **hparams)

    @property
    def hparams(self) -> dict[str, Any]:
        """The model's hyper-parameters and their current values."""
        return {k: getattr(self, k) for k in self.hparam_defaults()}

    def reset_parameters(self) -> None:
        raise NotImplementedError

    def forward(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """Returns the user representations ``[U, d]`` and item representations ``[I, d]``
        computed from the training view ``data``."""
        raise NotImplementedError

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor) -> list[Tensor]:
        """The free (layer-0) parameters of a batch that the L2 regulariser acts on."""
        raise NotImplementedError

    def loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor) -> dict[str, Tensor]:
        """The training objective on a batch of BPR triplets, as a dict whose ``'loss'`` entry
        is minimised and whose other entries are its weighted terms (for logging)."""
        user_emb, item_emb = self(data)
        u, i, j = user_emb[user], item_emb[pos], item_emb[neg]
        bpr = MF.bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        l2 = self.reg_weight * MF.l2_reg(*self.ego_embeddings(user, pos, neg))
        return {'loss': bpr + l2, 'bpr': bpr, 'l2': l2}

    def score(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        """Scores ``[B, I]`` of a batch of users ``user_emb`` against all items."""
        return user_emb @ item_emb.t()

    @staticmethod
    def train_edge_index(data: HeteroData) -> Tensor:
        """The training interactions ``[2, E]`` of ``data``."""
        return data[INTERACTS].edge_index

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in self.hparams.items())
        return f'{self.__class__.__name__}({self.num_users}, {self.num_items}, {args})'
