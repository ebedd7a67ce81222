from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import LightGCNConv
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.recommender import Encoded, Recommender


class VLightGCN(Recommender):
    r"""LightGCN with multimedia-enhanced node states, as defined in §4.1.1 of the
    "Less is More: Information Bottleneck Denoised Multimedia Recommendation" paper (IBMRec,
    Yang et al.; ``../shared/papers/ibmrec.md``): users start from an ID embedding
    next to a free multimedia embedding, items from an ID embedding next to the projection of
    their features, and both are propagated over the user-item graph:

    .. math::
        \mathbf{X}^0 = [\mathbf{P}^0 \,\|\, \mathbf{C}^0], \qquad
        \mathbf{Y}^0 = [\mathbf{Q}^0 \,\|\, \mathbf{Z}^0], \qquad
        \mathbf{Z}^0 = \textstyle\sum_k \mathbf{M}^k \mathbf{W}_k,

    .. math::
        \begin{bmatrix}\mathbf{X} \\ \mathbf{Y}\end{bmatrix} = \frac{1}{L+1} \sum_{l=0}^{L}
        \hat{\mathbf{A}}^l \begin{bmatrix}\mathbf{X}^0 \\ \mathbf{Y}^0\end{bmatrix}, \qquad
        \hat y_{ui} = \mathbf{x}_u^\top \mathbf{y}_i .

    The hidden layer :math:`\mathbf{H}` is the fused projection :math:`\mathbf{Z}^0`; the
    per-modality projections are the :math:`\mathbf{Z}^k`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID part and of the multimedia part.
            (default: :obj:`64`)
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`2`)
        reg_weight (float): L2 weight on the batch's layer-0 free embeddings.
            (default: :obj:`1e-4`)
    """
    requires_features = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: int = 64, num_layers: int = 2, reg_weight: float = 1e-4):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.reg_weight = reg_weight
        self.user_emb = torch.nn.Embedding(num_users, 2 * embedding_dim)  # [P ‖ C]
        self.item_emb = torch.nn.Embedding(num_items, embedding_dim)  # Q
        self.encoder = ModalityEncoder(feature_dims, embedding_dim)
        self.conv = LightGCNConv(num_layers, normalize=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        self.encoder.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        reps = self.encoder(self.item_features(data))
        h = self.hidden(ModalityEncoder.fuse(reps))
        item0 = torch.cat([self.item_emb.weight, h], dim=1)
        out = self.conv(torch.cat([self.user_emb.weight, item0]), self.adjacency(data))
        return Encoded(out[:self.num_users], out[self.num_users:], modality=reps, hidden=h)

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor) -> list[Tensor]:
        return [self.user_emb(user), self.item_emb(pos), self.item_emb(neg)]
