from __future__ import annotations

import dataclasses

from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import dropout_edge

import pyg_mmrec.functional as MF
from pyg_mmrec.graph import user_item_adjacency
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.params import Count0, Dim, Positive, Rate, Weight
from pyg_mmrec.registry import register


@dataclasses.dataclass
class SGLEncoded(Encoded):
    r"""The forward pass of :class:`SGL`: :class:`Encoded`, plus in training the node
    representations of the two augmented views ``[U + I, d]`` (users first).

    Args:
        views (tuple, optional): The representations :math:`\mathbf{Z}'` and
            :math:`\mathbf{Z}''` of the two edge-dropout views (:obj:`None` in evaluation).
    """
    views: tuple[Tensor, Tensor] | None = None


@register('sgl')
class SGL(LightGCN):
    r"""The SGL model from the `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ paper (SIGIR 2021), in its edge-dropout variant
    SGL-ED on a LightGCN encoder.

    Besides the LightGCN pass over the full training graph (which gives the scores and the BPR
    loss), two views :math:`s'(\mathcal{G}), s''(\mathcal{G})` of the user-item graph are drawn
    by dropping every interaction independently with probability :math:`\rho` (PyG's
    :func:`~torch_geometric.utils.dropout_edge`, the adjacency of each view re-normalised over
    its kept edges), and the same layer-0 embeddings are propagated over each of them. The
    representations of a node in the two views are pulled together and pushed away from the
    other nodes' by InfoNCE (:func:`~pyg_mmrec.functional.info_nce_candidates`, cosine
    critic):

    .. math::
        \mathcal{L}^\text{user}_\text{ssl} = \sum_{u} -\log
        \frac{\exp(s(\mathbf{z}'_u, \mathbf{z}''_u)/\tau)}
        {\sum_{v} \exp(s(\mathbf{z}'_u, \mathbf{z}''_v)/\tau)}, \qquad
        \mathcal{L} = \mathcal{L}_\text{BPR} + \lambda_1 (\mathcal{L}^\text{user}_\text{ssl}
        + \mathcal{L}^\text{item}_\text{ssl}) + \lambda_2 \|\Theta\|_2^2,

    with :math:`\mathcal{L}^\text{item}_\text{ssl}` the same over items. The views are only
    used in training; inference is LightGCN's on the full graph.

    Choices the paper leaves open, taken from the authors' code: the two views are redrawn
    once per epoch (:meth:`on_epoch_start`) and shared by the epoch's batches; the anchors of
    a batch are the user and the positive item of each of its interactions (a node in
    several interactions is an anchor as often: computed once, weighted), and the negatives
    of an anchor are **all** users, or all items, of the other view
    (:func:`~pyg_mmrec.functional.info_nce_candidates`, the paper's sum over all nodes); each
    of the two InfoNCE terms is averaged over the batch, like the BPR term (the authors sum
    all three: the same ratios). This costs about three times the epoch of in-batch
    negatives (one thread: 8.6 s against 3.0 s on tiktok, 56 s against 13 s on amazon-baby,
    ``benchmarks/results/speed.md``), but the choice decides whether SGL
    trains at all: with the batch's distinct nodes as anchors and as each other's negatives
    (this class's first version), with repeated anchors but in-batch negatives, or with all
    nodes as negatives but distinct anchors, at the paper's learning rate
    :math:`10^{-3}` the BPR loss stayed at :math:`\ln 2` and validation Recall@20 on tiktok
    at 0.003–0.012 through the first six epochs, while the authors' form reached 0.074 by the
    eighth (LightGCN at that epoch: 0.064). L2 acts on the batch's layer-0 embeddings, as
    :class:`LightGCN`'s. Defaults are
    the paper's best setting (three layers, :math:`\rho = 0.1`, :math:`\tau = 0.2`,
    :math:`\lambda_1 = 0.1`). The hidden layer :math:`\mathbf{H}` is the layer-0 embeddings,
    shared by the full graph and both views.

    Even in the authors' form the BPR term starts slowly: at initialisation the InfoNCE
    gradient on the embeddings is about 200 times BPR's, and under Adam the BPR loss stays
    near :math:`\ln 2` for tens of epochs (about 20 on tiktok, 80 on ml-100k-text) before it
    falls. Where validation falls meanwhile (ml-100k-text), an early stopping that counts from
    the first epoch ends the run before SGL has learned (:doc:`/benchmarks/backbones`); the
    trainer setting ``min_epochs`` holds it off.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        num_layers (int): LightGCN layers. (default: :obj:`3`)
        reg_weight (float): L2 weight :math:`\lambda_2`. (default: :obj:`1e-4`)
        drop_ratio (float): Edge-dropout ratio :math:`\rho` of the views.
            (default: :obj:`0.1`)
        ssl_temperature (float): InfoNCE temperature :math:`\tau`. (default: :obj:`0.2`)
        ssl_weight (float): Weight :math:`\lambda_1` of the self-supervised loss.
            (default: :obj:`0.1`)
    """
    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 num_layers: Count0 = 3, reg_weight: Weight = 1e-4, drop_ratio: Rate = 0.1,
                 ssl_temperature: Positive = 0.2, ssl_weight: Weight = 0.1):
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.drop_ratio = drop_ratio
        self.ssl_temperature = ssl_temperature
        self.ssl_weight = ssl_weight
        self._views: tuple[Tensor, Tensor] | None = None
        self._views_key: tuple | None = None
        SGL.reset_parameters(self)

    def on_epoch_start(self, epoch: int) -> None:
        self._views = None  # redrawn at the epoch's first training forward pass

    def augmented_adjacency(self, data: HeteroData) -> Tensor:
        r"""The normalised adjacency of one edge-dropout view :math:`s(\mathcal{G})` of
        ``data``'s training graph: each interaction kept with probability :math:`1 - \rho`."""
        kept, _ = dropout_edge(self.train_edge_index(data), p=self.drop_ratio)
        return user_item_adjacency(kept, self.num_users, self.num_items)

    def views(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """The adjacencies of the two views of the current epoch (drawn if none is held for
        ``data``'s training graph)."""
        edge_index = self.train_edge_index(data)
        key = (edge_index.data_ptr(), edge_index.size(1))
        if self._views is None or key != self._views_key:
            self._views = (self.augmented_adjacency(data), self.augmented_adjacency(data))
            self._views_key = key
        return self._views

    def encode(self, data: HeteroData) -> SGLEncoded:
        ego = self.hidden(self.embedding.weight)
        out = self.conv(ego, self.adjacency(data))
        views = None
        if self.training:
            views = tuple(self.conv(ego, adj) for adj in self.views(data))
        return SGLEncoded(*self.split_nodes(out), hidden=ego, views=views)

    def ssl_loss(self, views: tuple[Tensor, Tensor], user: Tensor, pos: Tensor) -> Tensor:
        r""":math:`\mathcal{L}^\text{user}_\text{ssl} + \mathcal{L}^\text{item}_\text{ssl}`
        (unweighted) with the users and positive items of a batch's interactions as anchors
        and all users, or all items, of the second view as candidates, given the two views'
        node representations ``[U + I, d]``."""
        (first_user, first_item), (second_user, second_item) = map(self.split_nodes, views)
        tables = ((user, first_user, second_user), (pos, first_item, second_item))
        loss = first_user.new_zeros(())
        for nodes, anchors, candidates in tables:
            # A node in several of the batch's interactions is computed once, weighted.
            distinct, count = nodes.unique(return_counts=True)
            loss = loss + MF.info_nce_candidates(anchors[distinct], candidates, distinct,
                                                 self.ssl_temperature, weight=count.float())
        return loss

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        losses = super().batch_loss(out, user, pos, neg)
        if getattr(out, 'views', None) is None:  # an evaluation-mode forward pass
            return losses
        ssl = self.ssl_weight * self.ssl_loss(out.views, user, pos)
        return {**losses, 'loss': losses['loss'] + ssl, 'ssl': ssl}
