from __future__ import annotations

import dataclasses
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.conv import ItemItemConv
from pyg_mmrec.nn.modality_attention import ModalityAttention
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.modality_item_graphs import ModalityItemGraphs
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Count, Count0, Dim, Fraction, Positive, Range, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import batch_items


@dataclasses.dataclass
class MICROEncoded(Encoded):
    r"""The forward pass of :class:`MICRO`: :class:`Encoded`, plus the modality-aware item
    representations that its contrastive loss aligns with the fused one.

    Args:
        modality_items (dict): The item representations :math:`\mathbf{H}^m` ``[I, d]``
            propagated over each modality's graph, by modality.
    """
    modality_items: dict[str, Tensor] = dataclasses.field(default_factory=dict)


@register('micro')
class MICRO(LightGCN):
    r"""The MICRO model from the `"Latent Structure Mining with Contrastive Modality Fusion for
    Multimedia Recommendation" <https://arxiv.org/abs/2111.00678>`_ paper (Zhang et al., IEEE
    TKDE 2022): LATTICE's latent item-item structures kept apart per modality, item
    representations propagated over each of them, fused by attention and aligned with the
    fusion by a contrastive loss, on top of LightGCN.

    For each modality :math:`m`, the graph :math:`\mathbf{S}^m = (1-\lambda)
    \hat{\mathbf{S}}^m + \lambda \tilde{\mathbf{S}}^m` mixes the kNN graph learned from the
    projected features :math:`\mathbf{Z}^m = \mathbf{M}^m \mathbf{W}_m + \mathbf{b}_m` with
    the frozen one of the raw features (:class:`~pyg_mmrec.nn.ModalityItemGraphs`), the item
    ID embeddings are propagated :math:`L'` times over it, and the modality-aware
    representations are fused item by item with attention
    (:class:`~pyg_mmrec.nn.modality_attention.ModalityAttention`):

    .. math::
        \mathbf{H}^m = (\mathbf{S}^m)^{L'} \mathbf{E}_\text{item}, \qquad
        \mathbf{h}_i = \sum_m \beta^m_i \mathbf{h}^m_i, \qquad
        \beta^m_i = \mathrm{softmax}_m\big(\mathbf{q}^\top \tanh(\mathbf{W}
        \mathbf{h}^m_i + \mathbf{b})\big), \qquad
        \mathbf{e}_i = \mathbf{e}^\text{LightGCN}_i + \frac{\mathbf{h}_i}{\|\mathbf{h}_i\|}.

    The contrastive modality fusion pulls each modality-aware representation of an item to
    its fused one and away from the other items' (GRACE's InfoNCE, with the other items'
    representations in both views as negatives;
    :func:`~pyg_mmrec.functional.info_nce` with ``intra_view=True``):

    .. math::
        \mathcal{L}_C = \sum_m -\frac{1}{|\mathcal{I}_B|} \sum_{i \in \mathcal{I}_B} \log
        \frac{e^{\theta(\mathbf{h}^m_i, \mathbf{h}_i)/\tau}}
        {\sum_{j} e^{\theta(\mathbf{h}^m_i, \mathbf{h}_j)/\tau}
        + \sum_{j \ne i} e^{\theta(\mathbf{h}^m_i, \mathbf{h}^m_j)/\tau}}, \qquad
        \mathcal{L} = \mathcal{L}_\text{BPR} + \lambda_C \mathcal{L}_C
        + \lambda_2 \|\Theta\|_2^2,

    with :math:`\theta` the cosine similarity.

    Choices the paper leaves open, taken from the authors' code unless said otherwise: the
    attention query is Linear(d, d)–Tanh–Linear(d, 1, no bias); :math:`\mathcal{L}_C` runs in
    one direction (modality-aware anchors), summed over the modalities, with :math:`\tau = 0.5`
    and :math:`\lambda_C = 0.03`; the learned graphs are rebuilt once per epoch, as LATTICE's.
    Unlike the authors' code, which contrasts all items at every step (in row blocks whose
    similarity matrices autograd keeps, :math:`O(N^2)` memory in all), the items of
    :math:`\mathcal{I}_B` are the batch's distinct positive and negative items, each other's
    negatives, at most ``contrastive_items`` of them drawn at random (on tiktok, one thread, a
    step of 2048 triplets took 0.18 s with 1024 of them, 0.92 s with all 2,745, LATTICE's 0.10
    s). The raw features are fixed inputs of the projections (the authors fine-tune them), and
    the L2 term acts on the batch's layer-0 embeddings, as :class:`LightGCN`'s, with the
    library's LATTICE default :math:`10^{-4}`. A modality known only by a precomputed graph
    (amazon-baby) uses it frozen.

    The per-modality graphs pass through :meth:`~Recommender.item_graph_weight` as one edge
    list, side by side in the order of :attr:`ModalityItemGraphs.graph_names` (collaborative
    states: the item ID embeddings; multimedia states: :math:`\sum_m \mathbf{Z}^m`), so that a
    plug-in such as IBMRec's GIB can mask them; :attr:`Encoded.item_graph` is that edge list
    (as one graph, :math:`\sum_m \mathbf{S}^m`). :attr:`Encoded.hidden` is the fused
    :math:`\mathbf{H}`, :attr:`Encoded.modality` the :math:`\mathbf{Z}^m`, and
    :attr:`MICROEncoded.modality_items` the :math:`\mathbf{H}^m`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (from the data).
        graph_modalities (list): Modalities with a precomputed item graph (from the data).
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        num_layers (int): LightGCN layers. (default: :obj:`2`)
        item_layers (int): Item-item propagation layers :math:`L'`. (default: :obj:`1`)
        knn_k (int): Neighbours per item in the kNN graphs. (default: :obj:`10`)
        lambda_coeff (float): Weight :math:`\lambda` of the frozen graphs. (default: :obj:`0.9`)
        contrastive_weight (float): Weight :math:`\lambda_C` of the contrastive loss.
            (default: :obj:`0.03`)
        temperature (float): Temperature :math:`\tau` of the contrastive loss.
            (default: :obj:`0.5`)
        contrastive_items (int): Most items :math:`|\mathcal{I}_B|` in one contrastive
            loss. (default: :obj:`1024`)
        reg_weight (float): L2 weight :math:`\lambda_2`. (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.ITEM_GRAPH,
                              Capability.INDUCTIVE})
    frozen_item_graphs = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 graph_modalities: list[str], embedding_dim: Dim = 64, num_layers: Count0 = 2,
                 item_layers: Count0 = 1, knn_k: Count = 10, lambda_coeff: Fraction = 0.9,
                 contrastive_weight: Weight = 0.03, temperature: Positive = 0.5,
                 contrastive_items: Annotated[int, Range(2, 2**16)] = 1024,
                 reg_weight: Weight = 1e-4):
        graph_names = sorted(set(feature_dims) | set(graph_modalities))
        if not graph_names:
            raise DataError("MICRO needs item feature matrices or precomputed item-item "
                            "graphs; the dataset has neither")
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.item_layers = item_layers
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.contrastive_weight = contrastive_weight
        self.temperature = temperature
        self.contrastive_items = contrastive_items
        self.encoder = ModalityEncoder(feature_dims, embedding_dim) if feature_dims else None
        self.modality_graphs = ModalityItemGraphs(graph_names, knn_k, lambda_coeff)
        self.item_conv = ItemItemConv(item_layers, normalize=False)
        self.attention = ModalityAttention(embedding_dim)
        MICRO.reset_parameters(self)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.encoder is not None:
            self.encoder.reset_parameters()
        self.modality_graphs.reset_parameters()
        self.attention.reset_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        self.modality_graphs.new_epoch()

    def encode(self, data: HeteroData) -> MICROEncoded:
        reps = self.encoder(self.item_features(data)) if self.encoder is not None else {}
        graphs = self.modality_graphs(data, reps)
        ids = self.embedding.weight[self.num_users:]
        # One pass through the hook over the modalities' graphs side by side (a mask is drawn
        # per edge of each graph), then split back into the modalities.
        names = self.modality_graphs.graph_names
        edge_index = torch.cat([graphs[m][0] for m in names], dim=1)
        edge_weight = self.item_graph_weight(
            edge_index, torch.cat([graphs[m][1] for m in names]), ids,
            ModalityEncoder.fuse(reps) if reps else None)
        sizes = [graphs[m][0].size(1) for m in names]
        per_modality = zip(names, edge_index.split(sizes, dim=1), edge_weight.split(sizes),
                           strict=True)
        items = {m: self.item_conv(ids, ei, ew) for m, ei, ew in per_modality}
        h = self.hidden(self.attention(torch.stack([items[m] for m in names])))
        # The user-item path never reads H. (The item path is not shared: the pass that
        # rebuilds the modality graphs, the first of an epoch, differentiates through them,
        # later passes get them detached.)
        out = self.shared('conv', lambda: self.conv(self.embedding.weight, self.adjacency(data)))
        user, item = self.split_nodes(out)
        return MICROEncoded(user, item + F.normalize(h, dim=1), modality=reps, hidden=h,
                            item_graph=(edge_index, edge_weight), modality_items=items)

    def contrastive_loss(self, out: MICROEncoded, items: Tensor) -> Tensor:
        r""":math:`\mathcal{L}_C` (unweighted) over the items ``items``."""
        return sum(MF.info_nce(hm[items], out.hidden[items], self.temperature, intra_view=True)
                   for hm in out.modality_items.values())

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        losses = super().batch_loss(out, user, pos, neg)
        contrastive = self.contrastive_weight * self.contrastive_loss(
            out, batch_items(pos, neg, self.contrastive_items))
        return {**losses, 'loss': losses['loss'] + contrastive, 'contrastive': contrastive}
