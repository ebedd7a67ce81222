from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import MMGCNConv
from pyg_mmrec.nn.models.modality_preference import ModalityPreferenceRecommender
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Count, Dim, Weight
from pyg_mmrec.registry import register


@register('mmgcn')
class MMGCN(ModalityPreferenceRecommender):
    r"""The MMGCN model from the `"MMGCN: Multi-modal Graph Convolution Network for
    Personalized Recommendation of Micro-video" <https://doi.org/10.1145/3343031.3351034>`_
    paper (Wei et al., ACM MM 2019): one graph-convolution branch per modality over the
    user-item graph, whose results are summed.

    In branch :math:`m`, users start from a free preference embedding
    :math:`\mathbf{P}^m` and items from the projection of their features
    :math:`\mathbf{Z}^m = \mathbf{M}^m \mathbf{W}_m + \mathbf{b}_m`
    (:class:`~pyg_mmrec.nn.ModalityEncoder`); the rows are normalised and propagated through
    ``num_layers`` aggregation + combination layers
    (:class:`~pyg_mmrec.nn.conv.MMGCNConv`), each of which adds the ID embedding
    :math:`\mathbf{E}^\text{id}` shared by all branches:

    .. math::
        \mathbf{H}^m = \mathrm{norm}\begin{bmatrix}\mathbf{P}^m \\ \mathbf{Z}^m\end{bmatrix},
        \qquad \mathbf{X}^{m,(l+1)} = \mathrm{MMGCNConv}^{m,l}\big(\mathbf{X}^{m,(l)},
        \mathbf{E}^\text{id}\big), \quad \mathbf{X}^{m,(0)} = \mathbf{H}^m, \qquad
        \begin{bmatrix}\mathbf{X} \\ \mathbf{Y}\end{bmatrix} = \sum_m \mathbf{X}^{m,(L)},

    scored by :math:`\hat y_{ui} = \mathbf{x}_u^\top \mathbf{y}_i` and trained with BPR plus L2
    on the batch's ID embeddings and user preferences.

    MMGCN fuses the modalities only at the very end, so following appendix D of DVIB
    (for late-fusion models, perturb before the fusion) the
    hidden layer is per modality: :math:`\mathbf{H}` stacks the item projections
    :math:`\mathbf{Z}^m` row-wise, ``[M I, latent_dim]`` with the modalities in sorted order
    (rows :math:`m I \dots (m + 1) I - 1` are modality :math:`m`), and passes through the
    hook of :meth:`perturb_hidden` once, so a row-wise perturbation acts on every modality of
    every item separately. It sits before the normalisation, so that a perturbation acts
    relative to the projections' own scale (the normalised states have entries of about
    :math:`1/\sqrt{d}`, which DVIB's adaptive noise, about 0.5 at the start, would swamp),
    and on the items only, as the DVIB authors' MMGCN code perturbs the item features and not
    the users' preferences. :attr:`Encoded.modality` holds the unperturbed
    :math:`\mathbf{Z}^m`.

    Choices and deviations: aggregation is the paper's mean pooling and combination its
    concatenation variant (the authors' defaults; their flag ``concate='False'`` is a
    non-empty string, hence true), with ``num_layers`` layers (the paper's :math:`L`, 2 in the
    authors' and MMRec's configs, although their code stacks three whatever it is set to).
    Final representations are the paper's sum over modalities (the authors' code takes the
    mean, a constant :math:`1/M` scale); the L2 term is the library's
    (:func:`~pyg_mmrec.functional.l2_reg`) on the batch's ID embeddings and the preferences of
    every modality (the authors' covers the visual preferences only). Every modality is
    projected to ``latent_dim`` (the authors do so for the visual features only, with 256,
    and use the other features raw), which keeps the branches alike and exposes each
    :math:`\mathbf{Z}^m`. The ID and preference embeddings are trained parameters, as in the
    paper; in the authors' and MMRec's code they are plain tensors that the optimiser never
    sees, so that they stay at their random initialisation and their L2 term has no gradient.
    ``train_embeddings=False`` reproduces that. On tiktok (learning rate 1e-3) it raises the
    validation Recall@20 after the first epoch from 0.044 to 0.067 (mean of three seeds), which
    is MMRec's own range there (0.054-0.092 over four seeds), but not what training reaches:
    frozen, the score falls to about 0.045 from the second epoch on and stays there (twelve
    epochs), below the trained embeddings' tuned 0.065; see :doc:`/benchmarks/backbones`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID embeddings and of the representations.
            (default: :obj:`64`)
        latent_dim (int): Size of the projected features and of the user preferences.
            (default: :obj:`256`)
        num_layers (int): Graph-convolution layers per modality. (default: :obj:`2`)
        concat (bool): Combination by concatenation (:obj:`True`) or element-wise addition.
            (default: :obj:`True`)
        reg_weight (float): L2 weight. (default: :obj:`1e-4`)
        train_embeddings (bool): Whether the ID embeddings and user preferences are
            optimised (the paper) or frozen at their initialisation (the authors' and MMRec's
            code). (default: :obj:`True`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, latent_dim: Dim = 256, num_layers: Count = 2,
                 concat: bool = True, reg_weight: Weight = 1e-4,
                 train_embeddings: bool = True):
        super().__init__(num_users, num_items, feature_dims, embedding_dim, latent_dim)
        self.num_layers = num_layers
        self.concat = concat
        self.reg_weight = reg_weight
        self.train_embeddings = train_embeddings
        # Frozen: parameters that receive no gradient, so that the optimiser leaves them at
        # their random initialisation (the state dict keeps them, under the same names).
        self.id_embedding.weight.requires_grad_(train_embeddings)
        for p in self.preference.values():
            p.requires_grad_(train_embeddings)
        self.convs = torch.nn.ModuleDict({
            m: torch.nn.ModuleList([
                MMGCNConv(latent_dim if layer == 0 else embedding_dim, embedding_dim, concat)
                for layer in range(num_layers)])
            for m in self.modality_names})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.encoder.reset_parameters()
        for convs in self.convs.values():
            for conv in convs:
                conv.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        reps = self.shared('reps', lambda: self.encoder(self.item_features(data)))
        h = self.hidden(torch.cat([reps[m] for m in self.modality_names]))
        adj = self.adjacency(data)  # ContentConv uses its structure only
        out = 0
        for m, z in zip(self.modality_names, h.chunk(len(self.modality_names)), strict=True):
            x = F.normalize(torch.cat([self.preference[m], z]), dim=-1)
            for conv in self.convs[m]:
                x = conv(x, self.id_embedding.weight, adj)
            out = out + x
        return Encoded(*self.split_nodes(out), modality=reps, hidden=h)

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item is a node without neighbours and with a zero ID embedding: in every
        branch its normalised projection :math:`\mathbf{Z}^m_i` passes through the layers,
        whose aggregation (a mean over no neighbour) is zero, so that only the combination
        of its own state remains; the branches are summed."""
        reps = self.encoder(features)
        isolated = torch.empty(2, 0, dtype=torch.long, device=self.id_embedding.weight.device)
        total = 0
        for m in self.modality_names:
            x = F.normalize(reps[m], dim=-1)
            no_id = x.new_zeros(x.size(0), self.embedding_dim)
            for conv in self.convs[m]:
                x = conv(x, no_id, isolated)
            total = total + x
        return total
