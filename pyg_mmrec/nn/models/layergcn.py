from __future__ import annotations

from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv.layer_refined_conv import LayerRefinedConv
from pyg_mmrec.nn.edge_pruning import DegreeSensitivePruning
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.params import Count, Dim, Rate, Weight
from pyg_mmrec.registry import register


@register('layergcn')
class LayerGCN(LightGCN):
    r"""The LayerGCN model from the `"Layer-refined Graph Convolutional Networks for
    Recommendation" <https://arxiv.org/abs/2207.11088>`_ paper (Zhou et al., ICDE 2023).

    ID embeddings :math:`\mathbf{E}^{(0)}` of users and items are propagated over the
    user-item graph by :class:`~pyg_mmrec.nn.conv.LayerRefinedConv`: every layer is re-weighted,
    node by node, by its cosine similarity to the ego embedding, and the refined layers
    :math:`1..L` are summed,

    .. math::
        \mathbf{e}^{(l)} = \cos\big(\hat{\mathbf{A}} \mathbf{E}^{(l-1)},
        \mathbf{E}^{(0)}\big) \odot \hat{\mathbf{A}} \mathbf{E}^{(l-1)}, \qquad
        \mathbf{E} = \sum_{l=1}^{L} \mathbf{E}^{(l)}, \qquad
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i,

    trained with BPR plus :math:`\lambda`-weighted L2 on the batch's ego embeddings. During
    training, :math:`\hat{\mathbf{A}}` is the normalised adjacency of a degree-sensitive sample
    of the training interactions (:class:`~pyg_mmrec.nn.edge_pruning.DegreeSensitivePruning`,
    a fraction ``dropout`` of the edges dropped with probability growing with
    :math:`\sqrt{d_u d_i}`), drawn anew every epoch; evaluation uses the full graph. The
    authors' public code alternates this pruning with uniform pruning on every other epoch; the
    paper describes only the degree-sensitive one, which is what is done here. The hidden layer
    :math:`\mathbf{H}` (DVIB, appendix D) is the ego embeddings :math:`\mathbf{E}^{(0)}`.

    Defaults follow the authors' MMRec configuration: 4 layers; the dropout ratio and
    :math:`\lambda` are tuned there over :math:`\{0, 0.1, 0.2\}` and
    :math:`\{10^{-2}, \dots, 10^{-5}\}`, and :obj:`0.1` and :obj:`1e-4` are taken as defaults.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        num_layers (int): Number of propagation layers :math:`L \geq 1`. (default: :obj:`4`)
        dropout (float): Fraction of training edges pruned every epoch, in :math:`[0, 1)`.
            (default: :obj:`0.1`)
        reg_weight (float): L2 weight :math:`\lambda`. (default: :obj:`1e-4`)
    """
    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 num_layers: Count = 4, dropout: Rate = 0.1, reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.dropout = dropout
        self.conv = LayerRefinedConv(num_layers, normalize=False)
        self.pruning = DegreeSensitivePruning(num_users, num_items, dropout)

    def on_epoch_start(self, epoch: int) -> None:
        self.pruning.resample()

    def encode(self, data: HeteroData) -> Encoded:
        adj = (self.pruning(self.train_edge_index(data)) if self.training
               else self.adjacency(data))
        ego = self.hidden(self.embedding.weight)
        out = self.conv(ego, adj)
        return Encoded(*self.split_nodes(out), hidden=ego)
