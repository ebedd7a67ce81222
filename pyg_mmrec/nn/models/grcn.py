from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import ContentConv, LightGCNConv
from pyg_mmrec.nn.models.modality_preference import ModalityPreferenceRecommender
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Choice, Count0, Dim, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import quiet_sparse_csr

WEIGHT_MODES = ('confid', 'max', 'mean')


@register('grcn')
class GRCN(ModalityPreferenceRecommender):
    r"""The GRCN model from the `"Graph-Refined Convolutional Network for Multimedia
    Recommendation with Implicit Feedback" <https://arxiv.org/abs/2111.02036>`_ paper (Wei et
    al., ACM MM 2020): a graph refining layer scores every user-item edge from content and
    softly prunes the likely false positives; ID embeddings are then propagated over the
    refined graph.

    **Graph refining.** Per modality :math:`m`, items have content states
    :math:`\mathbf{z}^m_i = \mathrm{norm}(\mathrm{LeakyReLU}(\mathbf{M}^m_i \mathbf{W}_m +
    \mathbf{b}_m))` (:class:`~pyg_mmrec.nn.ModalityEncoder`) and users a prototype
    :math:`\mathbf{p}^m_u`, refined by ``num_routing`` rounds of neighbour routing,

    .. math::
        \mathbf{p}^m_u \leftarrow \mathrm{norm}\Big(\mathbf{p}^m_u +
        \sum_{i \in \mathcal{N}(u)} \alpha^m_{iu} \mathbf{z}^m_i\Big), \qquad
        \alpha^m_{ji} = \mathrm{softmax}_{j \in \mathcal{N}(i)}
        \big(\mathbf{x}^{m\top}_i \mathbf{x}^m_j\big),

    with :math:`\mathbf{X}^m = [\mathbf{P}^m; \mathbf{Z}^m]`
    (:class:`~pyg_mmrec.nn.conv.ContentConv` with ``'dot'`` attention). The final
    :math:`\alpha^m_{ji}` of every directed edge :math:`j \to i` score how well the two ends
    agree in modality :math:`m`; they give the modality's content representations
    :math:`\mathbf{C}^m = \mathbf{X}^m + \mathrm{ContentConv}(\mathbf{X}^m)` and, combined
    over modalities, the refined weights

    .. math::
        w_{ji} = \mathrm{ReLU}\Big(\max_m \alpha^m_{ji}\, \tanh(c^m_j)\Big)
        \quad \text{(``confid'')}, \qquad
        \max_m \alpha^m_{ji} \quad \text{(``max'')}, \qquad
        \frac{1}{M} \sum_m \alpha^m_{ji} \quad \text{(``mean'')},

    with :math:`c^m_j` a learned per-node, per-modality confidence; the ReLU is the soft
    pruning (``pruning``) that cuts edges whose every modality disagrees.

    **Propagation and prediction.** The normalised ID embeddings are propagated over the
    refined graph without normalisation or non-linearity and summed over layers
    (:class:`~pyg_mmrec.nn.conv.LightGCNConv` on the weighted edge list), then concatenated with
    the content representations:

    .. math::
        \mathbf{E}' = \sum_{l=0}^{L} \mathbf{A}_w^l\, \mathrm{norm}(\mathbf{E}), \qquad
        \mathbf{H} = [\mathbf{C}^1 \,\|\, \dots \,\|\, \mathbf{C}^M], \qquad
        \begin{bmatrix}\mathbf{X} \\ \mathbf{Y}\end{bmatrix} = [\mathbf{E}' \,\|\,
        \mathbf{H}],

    scored by inner product and trained with BPR plus L2 on the batch's ID embeddings and
    user prototypes. :math:`\mathbf{H}`, ``[U + I, M * latent_dim]``, is the hidden layer of
    the DVIB paper's appendix D ("after modality fusion, where the
    representations of the text and visual modalities are combined through GCN layers") and
    passes through the hook of :meth:`perturb_hidden`; :attr:`Encoded.modality` holds the
    :math:`\mathbf{Z}^m`. :meth:`refined_graph` returns the weighted graph.

    Defaults are those of the authors' code, which produced the published results (two
    propagation layers; ``weight_mode='confid'``; soft pruning; concatenation fusion; unit-norm
    states, no activations), including its routing: none. The paper routes the user prototypes
    (above, ``num_routing`` rounds, 3 in MMRec's config), but in the authors' (and MMRec's)
    code the routing messages flow from users to items, so the prototypes are never updated.
    ``num_routing > 0`` gives the paper's routing, which on tiktok cost 44 % of the
    accuracy (validation Recall@20 0.042 with 3 rounds against 0.074 without, same settings,
    see :doc:`/benchmarks`), likely because routed prototypes are mostly their items' mean
    content, which leaves the attention that refines the graph little user-specific signal.
    Deviations: (1) the confidence enters as :math:`\tanh(c)`, so that refined weights stay in
    :math:`[0, 1]` (a confidence-weighted attention) while its sign still prunes; the
    authors' raw :math:`c` is unbounded and unregularised (their regulariser on it is
    computed but never added). Near the small initial values, :math:`\tanh(c) \approx c`.
    (2) the L2 term is the library's (:func:`~pyg_mmrec.functional.l2_reg`, a sum over the
    embedding rows) rather than a mean over entries.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID embeddings. (default: :obj:`64`)
        latent_dim (int): Size of the content states and user prototypes.
            (default: :obj:`64`)
        num_layers (int): Propagation layers over the refined graph. (default: :obj:`2`)
        num_routing (int): Routing rounds of the user prototypes (the paper's; none in the
            authors' code). (default: :obj:`0`)
        weight_mode (str): How the modalities' scores combine into the refined weights,
            ``'confid'``, ``'max'`` or ``'mean'``. (default: :obj:`'confid'`)
        pruning (bool): Soft pruning (ReLU) of the refined weights. (default: :obj:`True`)
        reg_weight (float): L2 weight. (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, latent_dim: Dim = 64, num_layers: Count0 = 2,
                 num_routing: Count0 = 0, weight_mode: Choice(*WEIGHT_MODES) = 'confid',
                 pruning: bool = True,
                 reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items, feature_dims, embedding_dim, latent_dim)
        self.num_layers = num_layers
        self.num_routing = num_routing
        self.weight_mode = weight_mode
        self.pruning = pruning
        self.reg_weight = reg_weight
        self.confidence = torch.nn.Parameter(
            torch.empty(num_users + num_items, len(self.modality_names)))
        self.content_conv = ContentConv('dot')
        self.id_conv = LightGCNConv(num_layers, normalize=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        torch.nn.init.xavier_normal_(self.confidence)
        self.encoder.reset_parameters()

    def refine(self, data: HeteroData) -> tuple[dict[str, Tensor], Tensor, Tensor, Tensor]:
        r"""The graph refining layer: the content states :math:`\mathbf{Z}^m`, the content
        representations :math:`[\mathbf{C}^1 \| \dots \| \mathbf{C}^M]`, and the refined graph
        as directed edges ``[2, 2E]`` (source, target; users ``0..U-1``, then items) with
        their weights :math:`w_{ji}`."""
        adj = self.adjacency(data)  # the cached graph, of which only the structure is used
        ptr, col = adj.crow_indices(), adj.col_indices()
        row = torch.repeat_interleave(torch.arange(adj.size(0), device=ptr.device), ptr.diff())
        # The users' rows (users come first): the routing updates the user prototypes only.
        end = int(ptr[self.num_users])
        with quiet_sparse_csr():
            user_adj = torch.sparse_csr_tensor(ptr[:self.num_users + 1], col[:end],
                                               adj.values()[:end], (self.num_users, adj.size(1)))
        reps = {m: F.normalize(F.leaky_relu(z), dim=-1)
                for m, z in self.encoder(self.item_features(data)).items()}
        content, alphas = [], []
        for m in self.modality_names:
            pref = F.normalize(self.preference[m], dim=-1)
            for _ in range(self.num_routing):
                routed = self.content_conv(torch.cat([pref, reps[m]]), user_adj)
                pref = F.normalize(pref + routed, dim=-1)
            x = torch.cat([pref, reps[m]])
            out, alpha = self.content_conv(x, adj, return_attention_weights=True)
            content.append(x + out)
            alphas.append(alpha)
        alpha = torch.stack(alphas, dim=-1)  # [2E, M], entries in the adjacency's order
        if self.weight_mode == 'confid':
            weight = (alpha * torch.tanh(self.confidence[col])).amax(dim=-1)
        elif self.weight_mode == 'max':
            weight = alpha.amax(dim=-1)
        else:
            weight = alpha.mean(dim=-1)
        if self.pruning:
            weight = F.relu(weight)
        return reps, torch.cat(content, dim=-1), torch.stack([col, row]), weight

    def refined_graph(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """The refined user-item graph: directed edges ``[2, 2E]`` (source, target) and their
        weights ``[2E]``."""
        _, _, edge_index, weight = self.refine(data)
        return edge_index, weight

    def encode(self, data: HeteroData) -> Encoded:
        reps, content, ids = self.shared('refined', lambda: self._refined_ids(data))
        h = self.hidden(content)
        out = torch.cat([(self.num_layers + 1) * ids, h], dim=-1)  # the sum over layers
        return Encoded(*self.split_nodes(out), modality=reps, hidden=h)

    def _refined_ids(self, data: HeteroData) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The modality projections, the content states (the hidden layer before its hook)
        and the ID embeddings propagated over the refined graph, which never reads them."""
        reps, content, edge_index, weight = self.refine(data)
        # Edge list, not a sparse matrix: the refined graph is not symmetric, and its weights
        # need gradients, which LightGCNConv's symmetric sparse product does not give.
        ids = self.id_conv(F.normalize(self.id_embedding.weight, dim=-1), edge_index, weight)
        return reps, content, ids

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item is a node without edges and with a zero ID embedding: its propagated
        ID part is zero and each content representation :math:`\mathbf{C}^m_i` is its
        content state :math:`\mathbf{z}^m_i` (the attention has no neighbour to add)."""
        reps = self.encoder(features)
        content = torch.cat([F.normalize(F.leaky_relu(reps[m]), dim=-1)
                             for m in self.modality_names], dim=-1)
        return torch.cat([content.new_zeros(content.size(0), self.embedding_dim), content], -1)
