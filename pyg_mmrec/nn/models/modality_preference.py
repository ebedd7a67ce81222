from __future__ import annotations

import torch
from torch import Tensor

from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.recommender import Encoded, Recommender


class ModalityPreferenceRecommender(Recommender):
    r"""Base class of the models that convolve each modality's content over the user-item
    graph (:class:`~pyg_mmrec.nn.models.MMGCN`, :class:`~pyg_mmrec.nn.models.GRCN`): users
    and items share an ID embedding table :math:`\mathbf{E}^\text{id}`, each user holds one
    free preference vector :math:`\mathbf{p}^m_u` per modality, and the items' features are
    projected to :math:`\mathbf{Z}^m` by a :class:`~pyg_mmrec.nn.ModalityEncoder`. The L2
    regulariser acts on the batch's ID embeddings and its users' preferences.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension.
        embedding_dim (int): Size of the ID embeddings.
        latent_dim (int): Size of the preferences and of the projected features.
    """
    requires_features = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: int, latent_dim: int):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.latent_dim = latent_dim
        self.modality_names = sorted(feature_dims)
        self.id_embedding = torch.nn.Embedding(num_users + num_items, embedding_dim)
        self.preference = torch.nn.ParameterDict({
            m: torch.nn.Parameter(torch.empty(num_users, latent_dim))
            for m in self.modality_names})
        self.encoder = ModalityEncoder(feature_dims, latent_dim)

    def reset_parameters(self) -> None:
        """Resets the ID embeddings and the preferences (subclasses reset the rest, the
        encoder included)."""
        torch.nn.init.xavier_normal_(self.id_embedding.weight)
        for p in self.preference.values():
            torch.nn.init.xavier_normal_(p)

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        w = self.id_embedding.weight
        return [w[user], w[self.num_users + pos], w[self.num_users + neg],
                *(self.preference[m][user] for m in self.modality_names)]
