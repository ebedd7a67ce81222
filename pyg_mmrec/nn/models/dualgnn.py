from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import softmax, spmm, to_torch_csr_tensor

import pyg_mmrec.functional as MF
from pyg_mmrec.graph import user_cooccurrence_graph
from pyg_mmrec.nn.conv import LightGCNConv
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.params import Count, Count0, Dim, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import quiet_sparse_csr


@register('dualgnn')
class DualGNN(Recommender):
    r"""The DualGNN model from the `"Dual Graph Neural Network for Multimedia
    Recommendation" <https://doi.org/10.1109/TMM.2021.3138298>`_ paper (IEEE TMM 2021).

    *Single-modal representation learning.* For each modality :math:`m`, the item features
    are projected by a two-layer MLP, :math:`\mathbf{F}^m = \mathrm{MLP}_m(\mathbf{M}^m)`
    (LeakyReLU between the layers), users have a preference table :math:`\mathbf{P}^m`, and
    the row-normalised :math:`\mathbf{X}^m = \overline{[\mathbf{P}^m; \mathbf{F}^m]}` is
    propagated over the symmetric-normalised user-item graph :math:`\hat{\mathbf{A}}`:

    .. math::
        \mathbf{H}^m = \sum_{l=0}^{L} \hat{\mathbf{A}}^l \mathbf{X}^m .

    *Multi-modal fusion.* Items sum their modality representations; each user weighs its own
    with learned weights :math:`w_{um}`:

    .. math::
        \mathbf{h}_i = \sum_m \mathbf{h}^m_i, \qquad
        \tilde{\mathbf{h}}_u = \sum_m w_{um} \mathbf{h}^m_u .

    *User co-occurrence graph.* Each user aggregates the fused representations of its
    :math:`k` most co-occurring users (:func:`~pyg_mmrec.graph.user_cooccurrence_graph`:
    :math:`c_{uv}` items shared), weighted by the softmax of the counts:

    .. math::
        \mathbf{h}_u = \tilde{\mathbf{h}}_u + \sum_{v \in \mathcal{N}_k(u)}
        \frac{\exp(c_{uv})}{\sum_{v' \in \mathcal{N}_k(u)} \exp(c_{uv'})}
        \tilde{\mathbf{h}}_v, \qquad \hat y_{ui} = \mathbf{h}_u^\top \mathbf{h}_i,

    trained with BPR plus :math:`\lambda \big(\sum_m \overline{(\mathbf{P}^m_B)^2} +
    \overline{\mathbf{w}^2}\big)` (means of the squares of the batch's preference rows and of
    all fusion weights). The user graph is built once per training graph and cached, from
    sparse products (no dense :math:`U \times U` matrix).

    Choices the paper leaves open, taken from the authors' code as MMRec ships it: the
    propagation is parameter-free with the symmetric normalisation (``aggr='add'``), two
    layers, and the layer outputs summed (here :math:`L+1` times
    :class:`~pyg_mmrec.nn.conv.LightGCNConv`'s mean); the MLP is
    Linear(:math:`d_m`, :math:`4d`)-LeakyReLU-Linear(:math:`4d`, :math:`d`); the preferences
    are Xavier-normal and the fusion weights start as the softmax over modalities of small
    Gaussian values (then train freely); :math:`k = 40` with softmax weights. Differences:
    a user with fewer than :math:`k` co-occurring users keeps those it has (the authors pad
    the list with random repeats, which weighs the repeated users more); BPR uses the natural
    logarithm (theirs, base 2: a constant factor); their unused item-side fusion weights,
    which enter only the regulariser, are left out. The hidden layer :math:`\mathbf{H}` is
    the fused item representations :math:`\mathbf{h}_i`; :attr:`Encoded.modality` holds the
    :math:`\mathbf{F}^m`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (from the data).
        embedding_dim (int): Size :math:`d` of every representation. (default: :obj:`64`)
        num_layers (int): Propagation layers :math:`L`. (default: :obj:`2`)
        knn_k (int): Neighbours :math:`k` per user in the user graph. (default: :obj:`40`)
        reg_weight (float): Regularisation weight :math:`\lambda` (MMRec searches
            :math:`10^{-5}..10^{-1}`). (default: :obj:`1e-4`)
    """
    requires_features = True
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, num_layers: Count0 = 2, knn_k: Count = 40,
                 reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.knn_k = knn_k
        self.reg_weight = reg_weight
        self.feature_names = sorted(feature_dims)
        d = embedding_dim
        self.mlp = torch.nn.ModuleDict({
            m: torch.nn.Sequential(torch.nn.Linear(feature_dims[m], 4 * d),
                                   torch.nn.LeakyReLU(), torch.nn.Linear(4 * d, d))
            for m in self.feature_names})
        self.preference = torch.nn.ParameterDict({
            m: torch.nn.Parameter(torch.empty(num_users, d)) for m in self.feature_names})
        self.fusion_weight = torch.nn.Parameter(torch.empty(num_users, len(self.feature_names)))
        self.conv = LightGCNConv(num_layers, normalize=False)
        self._user_graph_key: tuple | None = None
        self._user_graph: Tensor | None = None
        DualGNN.reset_parameters(self)

    def reset_parameters(self) -> None:
        for m in self.feature_names:
            for layer in self.mlp[m]:
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
            torch.nn.init.xavier_normal_(self.preference[m])
        std = (2 / (self.num_users + len(self.feature_names))) ** 0.5
        with torch.no_grad():
            self.fusion_weight.copy_(torch.softmax(
                torch.randn_like(self.fusion_weight) * std, dim=1))

    def user_graph(self, data: HeteroData) -> Tensor:
        r"""The softmax-weighted top-:math:`k` co-occurrence graph of ``data``'s training
        interactions as a sparse ``[U, U]`` matrix (row :math:`u` holds the weights of
        :math:`\mathcal{N}_k(u)`), built once and cached."""
        edge_index = self.train_edge_index(data)
        key = (edge_index.data_ptr(), edge_index.size(1))
        if key != self._user_graph_key:
            graph, count = user_cooccurrence_graph(edge_index, self.num_users,
                                                   self.num_items, self.knn_k)
            weight = softmax(count, graph[1], num_nodes=self.num_users)
            with quiet_sparse_csr():
                self._user_graph = to_torch_csr_tensor(graph.flip(0), weight,
                                                       size=(self.num_users, self.num_users))
            self._user_graph_key = key
        return self._user_graph

    def encode(self, data: HeteroData) -> Encoded:
        reps, items, user = self.shared('propagated', lambda: self._propagate(data))
        item = self.hidden(items)
        return Encoded(user, item, modality=reps, hidden=item)

    def _propagate(self, data: HeteroData) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The modality projections, the items' representations (the hidden layer before its
        hook) and the users', which never read them."""
        features = self.item_features(data)
        reps = {m: self.mlp[m](features[m]) for m in self.feature_names}
        adj = self.adjacency(data)
        users, items = [], []
        for m in self.feature_names:
            x = F.normalize(torch.cat([self.preference[m], reps[m]]), dim=1)
            h = (self.num_layers + 1) * self.conv(x, adj)  # sum of the layers 0..L
            user, item = self.split_nodes(h)
            users.append(user)
            items.append(item)
        fused = (torch.stack(users, dim=2) * self.fusion_weight.unsqueeze(1)).sum(2)
        with quiet_sparse_csr():
            return reps, sum(items), fused + spmm(self.user_graph(data), fused)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        u, i, j = out.user[user], out.item[pos], out.item[neg]
        bpr = MF.bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        reg = sum(self.preference[m][user].pow(2).mean() for m in self.feature_names)
        reg = self.reg_weight * (reg + self.fusion_weight.pow(2).mean())
        return {'loss': bpr + reg, 'bpr': bpr, 'reg': reg}
