from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError, DataError, NotInductiveError
from pyg_mmrec.graph import (
    content_profile,
    ensure_modality_graphs,
    knn_to_features,
    neighbour_mean,
    user_item_adjacency,
)
from pyg_mmrec.params import Param, declared, validate_call
from pyg_mmrec.schema import INTERACTS, feature_key, graph_modalities, modalities

#: Training items a new item is connected to by :meth:`Recommender.new_item_graph`, for
#: models without a ``knn_k`` of their own.
NEW_ITEM_NEIGHBOURS = 10


def check_item_graph_inputs(data: HeteroData, knn_k: int, model: str) -> None:
    """Refuses what makes a kNN item graph degenerate, with its true cause: ``knn_k`` that
    leaves no item out (every item a neighbour of every other: negative similarities enter
    and the degree normalisation breaks down), and a feature matrix with no nonzero entry
    (every similarity zero, so no item has a neighbour)."""
    num_items = data['item'].num_nodes
    if knn_k >= num_items - 1:
        raise ConfigError(f"config key 'knn_k' = {knn_k}: {model} needs fewer neighbours "
                          f"than items - 1 ({num_items - 1} on this dataset)")
    for m in modalities(data):
        if not bool(data['item'][feature_key(m)].any()):
            raise DataError(f"{model}: the features of modality {m!r} are all zero, so its "
                            f"kNN item graph has no edge; drop the modality or fix its "
                            f"features")


class Capability(enum.StrEnum):
    r"""What a backbone offers the information-bottleneck plug-ins: a model declares its
    capabilities in :attr:`Recommender.capabilities`, plug-ins read nothing else of it, and
    the contract test checks every registered model's forward pass against its declaration.
    """
    #: :attr:`Encoded.hidden` is the hidden layer :math:`\mathbf{H}`, passed through
    #: :meth:`Recommender.hidden` (so that :meth:`Recommender.perturb_hidden` reaches it).
    HIDDEN = 'hidden'
    #: On data with item features, :attr:`Encoded.modality` holds one representation
    #: :math:`\mathbf{Z}^k` per modality, computed from the raw features :math:`\mathbf{M}^k`
    #: of :meth:`Recommender.item_features` (so that :meth:`Recommender.perturb_features`
    #: reaches them).
    MODALITY = 'modality'
    #: The user and item states are an ID part next to a multimedia part, split at
    #: :attr:`Encoded.id_channels` (:attr:`Encoded.user_multimedia`,
    #: :attr:`Encoded.item_multimedia`), and :meth:`Recommender.multimedia_parameters` lists the
    #: parameters the multimedia parts are computed from.
    MULTIMEDIA = 'multimedia'
    #: The model propagates over an item-item graph whose weights pass through
    #: :meth:`Recommender.item_graph_weight` (so that :meth:`Recommender.perturb_item_graph`
    #: reaches them); :attr:`Encoded.item_graph` is that graph.
    ITEM_GRAPH = 'item_graph'
    #: The model represents items it never saw in training from their feature rows alone
    #: (:meth:`Recommender.encode_new_items`; the cold-start protocol of :doc:`/cold_start`).
    #: Models without it represent an item by its ID and raise a
    #: :class:`~pyg_mmrec.errors.NotInductiveError` instead.
    INDUCTIVE = 'inductive'


@dataclasses.dataclass
class Encoded:
    r"""What one forward pass of a model computes: the final representations, and what the
    information-bottleneck plug-ins act on (see :class:`Capability`).

    Args:
        user (Tensor): User representations ``[U, d]``.
        item (Tensor): Item representations ``[I, d]``.
        modality (dict): Per-modality item representations :math:`\mathbf{Z}^k` ``[I, d_k]``,
            each computed from the raw features ``data['item'].x_<k>`` (empty for models that
            use no features).
        hidden (Tensor, optional): The hidden layer :math:`\mathbf{H}` after modality fusion
            (or the ID embeddings of single-modal models), as perturbed by the hook of
            :meth:`Recommender.perturb_hidden` if one is set.
        item_graph (tuple, optional): The weighted item-item graph ``(edge_index,
            edge_weight)`` the model propagated over, for models that use one.
        id_channels (int, optional): For models whose states are an ID part next to a
            multimedia part (e.g. VBPR's :math:`[\boldsymbol{\gamma}_i \,\|\,
            \mathbf{E}\mathbf{f}_i]`), the number of ID columns; :obj:`None` otherwise.
    """
    user: Tensor
    item: Tensor
    modality: dict[str, Tensor] = dataclasses.field(default_factory=dict)
    hidden: Tensor | None = None
    item_graph: tuple[Tensor, Tensor] | None = None
    id_channels: int | None = None

    @property
    def user_id(self) -> Tensor | None:
        """The ID part of :attr:`user` (:obj:`None` without :attr:`id_channels`)."""
        return None if self.id_channels is None else self.user[:, :self.id_channels]

    @property
    def user_multimedia(self) -> Tensor | None:
        """The multimedia part of :attr:`user` (:obj:`None` without :attr:`id_channels`)."""
        return None if self.id_channels is None else self.user[:, self.id_channels:]

    @property
    def item_id(self) -> Tensor | None:
        """The ID part of :attr:`item` (:obj:`None` without :attr:`id_channels`)."""
        return None if self.id_channels is None else self.item[:, :self.id_channels]

    @property
    def item_multimedia(self) -> Tensor | None:
        """The multimedia part of :attr:`item` (:obj:`None` without :attr:`id_channels`)."""
        return None if self.id_channels is None else self.item[:, self.id_channels:]


@dataclasses.dataclass
class Stage:
    r"""A further optimisation step that a model asks the trainer to take after each step on
    its :meth:`Recommender.loss` (e.g. IBMRec's second stage, Algorithm 1 of its paper): the
    trainer gives the stage its own Adam optimiser over ``parameters`` only (checkpointed with
    the main one) and steps it on ``loss(data, user, pos, neg)`` of the same batch, recomputed
    after the main step.

    Args:
        name (str): Key under which the trainer logs the stage's loss.
        parameters (list): The parameters this stage updates.
        loss (callable): ``loss(data, user, pos, neg) -> Tensor`` on a batch of triplets.
        lr (float, optional): Learning rate; :obj:`None` takes the trainer's.
    """
    name: str
    parameters: list[torch.nn.Parameter]
    loss: Callable[[HeteroData, Tensor, Tensor, Tensor], Tensor]
    lr: float | None = None


class Recommender(torch.nn.Module):
    r"""Base class of every recommendation model.

    A model maps the training view of a dataset (a :class:`~torch_geometric.data.HeteroData`
    whose ``('user', 'interacts', 'item')`` ``edge_index`` holds the training interactions) to
    user and item representations, and scores a user-item pair by their inner product:

    .. math::
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i .

    Subclasses implement :meth:`encode` (whose :class:`Encoded` result also exposes the
    per-modality representations and the hidden layer that the IB plug-ins need; ``forward``
    returns its user and item parts) and usually inherit :meth:`loss` (BPR plus L2 on the
    layer-0 embeddings of the batch, see :meth:`ego_embeddings`); models with other objectives
    override it. Models whose :attr:`requires_features` is set refuse datasets without item
    feature matrices. Subclasses store every constructor argument as an attribute of the same name,
    so that :attr:`hparams` can list them and a checkpoint can rebuild the model with
    :meth:`from_data`. Each hyper-parameter declares its type and range in its annotation
    (:mod:`pyg_mmrec.params`, e.g. ``embedding_dim: Dim = 64``): every constructor validates
    its declared arguments on entry, and :func:`~pyg_mmrec.train.resolve` validates a config
    against the same declarations before any data is read.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
    """
    requires_features: ClassVar[bool] = False
    #: Whether the model has parameters to fit; the trainer only validates and tests a model
    #: without (a content or popularity reference such as :class:`~pyg_mmrec.nn.models.Pop`).
    trainable: ClassVar[bool] = True
    #: What the model offers the plug-ins (see :class:`Capability`).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Whether the model propagates over one frozen kNN graph per modality with ``knn_k`` (its
    #: attribute) neighbours, read from the data (``('item', 'knn_<m>', 'item')``):
    #: :meth:`from_data` computes the missing ones into the data, and the forward pass raises a
    #: :class:`~pyg_mmrec.errors.DataError` on data without them.
    frozen_item_graphs: ClassVar[bool] = False
    #: Whether the rows the L2 term acts on (:meth:`ego_embeddings`) are, joined, the very
    #: rows the scores read, in every forward pass (VBPR: its representations are its layer-0
    #: states): :meth:`batch_loss` then regularises the scored rows instead of gathering them
    #: again, since every gather from a table adds a zero-filled gradient of the table's full
    #: size to the backward pass.
    scores_layer0: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        # Every constructor validates its declared arguments (pyg_mmrec.params) on entry.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get('__init__')
        if init is None or hasattr(init, '__wrapped__'):
            return

        @functools.wraps(init)
        def checked(self, *args, **kwargs):
            validate_call(init, (self, *args), kwargs)
            init(self, *args, **kwargs)
        cls.__init__ = checked

    def __init__(self, num_users: int, num_items: int):
        super().__init__()
        self.num_users = num_users
        self.num_items = num_items
        self._hidden_hook: Callable[[Tensor], Tensor] | None = None
        self._item_graph_hook: Callable[..., Tensor] | None = None
        self._feature_hook: Callable[[str, Tensor], Tensor] | None = None
        self._adj_key: tuple | None = None
        self._adj: Tensor | None = None
        self._shared: dict[Any, Any] | None = None

    @classmethod
    def hparam_defaults(cls, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The model's hyper-parameters (constructor arguments not derived from the data)
        with their defaults. ``config`` (the user's settings) matters only to models whose
        hyper-parameters depend on another setting, such as a plug-in's backbone."""
        params = inspect.signature(cls.__init__).parameters
        return {k: p.default for k, p in params.items()
                if k not in ('self', 'num_users', 'num_items', 'feature_dims', 'graph_modalities')
                and p.kind is p.POSITIONAL_OR_KEYWORD}

    @classmethod
    def hparam_specs(cls, config: Mapping[str, Any] | None = None) -> dict[str, Param]:
        """The declarations (type, range, default; see :mod:`pyg_mmrec.params`) of the
        hyper-parameters of :meth:`hparam_defaults` that declare one."""
        specs = declared(inspect.unwrap(cls.__init__))
        return {k: specs[k] for k in cls.hparam_defaults(config) if k in specs}

    @classmethod
    def from_data(cls, data: HeteroData, **hparams) -> Recommender:
        """Builds the model for ``data`` (sizes read from it) with the given
        hyper-parameters. For models with :attr:`frozen_item_graphs`, the kNN graph of each
        modality that has features but no graph of the dataset's own is computed into
        ``data`` with the model's ``knn_k`` (once: a later model with the same ``knn_k`` finds
        it there) by :func:`~pyg_mmrec.graph.ensure_modality_graphs`."""
        sizes = {'num_users': data['user'].num_nodes, 'num_items': data['item'].num_nodes}
        params = inspect.signature(cls.__init__).parameters
        names = modalities(data)
        if cls.requires_features and not names:
            graphs = graph_modalities(data)
            raise DataError(
                f"{cls.__name__} needs item feature matrices (data['item'].x_<modality>), "
                f"but dataset {getattr(data, 'name', '?')!r} has none"
                + (f"; it has only item-item graphs ({', '.join(graphs)})" if graphs else ''))
        if 'feature_dims' in params:
            sizes['feature_dims'] = {m: data['item'][feature_key(m)].size(1) for m in names}
        if 'graph_modalities' in params:
            sizes['graph_modalities'] = graph_modalities(data)
        model = cls(**sizes, **hparams)
        if cls.frozen_item_graphs:
            check_item_graph_inputs(data, model.knn_k, cls.__name__)
            ensure_modality_graphs(data, model.knn_k)
        return model

    @property
    def hparams(self) -> dict[str, Any]:
        """The model's hyper-parameters and their current values."""
        return {k: getattr(self, k) for k in self.hparam_defaults()}

    def reset_parameters(self) -> None:
        """Re-initialises every parameter. A constructor ends by calling its own class's
        method, ``MyModel.reset_parameters(self)``, not ``self.reset_parameters()``: a
        subclass's override would run before the subclass has built its layers."""
        raise NotImplementedError

    def multimedia_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the multimedia parts of the states are computed from, for models
        with :attr:`Capability.MULTIMEDIA` (e.g. IBMRec's second stage updates only these);
        none by default."""
        return []

    def encode(self, data: HeteroData) -> Encoded:
        """Computes the representations from the training view ``data``."""
        raise NotImplementedError

    def check_inductive(self) -> None:
        """Raises a :class:`~pyg_mmrec.errors.NotInductiveError` unless the model has
        :attr:`Capability.INDUCTIVE`."""
        if Capability.INDUCTIVE not in self.capabilities:
            raise NotInductiveError(
                f"{type(self).__name__} represents an item by its ID embedding alone, so it "
                f"cannot score items known only by their features (cold_items > 0 or new "
                f"items); use a model with the 'inductive' capability (pyg-mmrec models "
                f"lists them)")

    def encode_new_items(self, data: HeteroData, features: Mapping[str, Tensor],
                         out: Encoded | None = None) -> Tensor:
        r"""Representations ``[C, d]`` (the width of :attr:`Encoded.item`) of ``C`` items
        that training never saw, from their feature rows alone, for models with
        :attr:`Capability.INDUCTIVE`; what they are made of is the model's
        :meth:`represent_new_items` (:doc:`/cold_start` lists it per model).

        Args:
            data (HeteroData): The training view the model was trained on.
            features (dict): Modality name to the new items' features ``[C, d_m]``, one
                matrix per modality of ``data``, of the same widths.
            out (Encoded, optional): The model's forward pass on ``data``, if computed.

        Raises:
            NotInductiveError: For a model that represents items by their ID alone.
            DataError: If ``features`` do not match the modalities of ``data``.
        """
        self.check_inductive()
        known = {m: data['item'][feature_key(m)].size(1) for m in modalities(data)}
        given = {m: (x.size(1) if x.dim() == 2 else -1) for m, x in features.items()}
        if given != known:
            raise DataError(f"new items need one feature matrix per modality of the training "
                            f"data, of the same widths ({known}); got {given}")
        if len({x.size(0) for x in features.values()}) != 1:
            raise DataError(f"the new items' feature matrices differ in rows: "
                            f"{ {m: x.size(0) for m, x in features.items()} }")
        return self.represent_new_items(data, {m: x.float() for m, x in features.items()},
                                        self.encode(data) if out is None else out)

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""What :meth:`encode_new_items` computes once the inputs are checked. By default, a
        new item is connected to its :math:`k` most similar training items by content
        (:meth:`new_item_graph`) and takes the similarity-weighted mean of their final
        representations (:func:`neighbour_mean`): the content item-item graph of LATTICE
        and FREEDOM extended to the new items. Models with a content path of their own
        override it (e.g. :class:`~pyg_mmrec.nn.models.VBPR`)."""
        num = next(iter(features.values())).size(0)
        return neighbour_mean(out.item, *self.new_item_graph(data, features), num)

    def new_item_graph(self, data: HeteroData, features: Mapping[str, Tensor]
                       ) -> tuple[Tensor, Tensor]:
        r"""The graph from the training items of ``data`` to the new items of ``features``:
        each new item's top-:math:`k` training items (:math:`k` the model's ``knn_k``, else
        ``NEW_ITEM_NEIGHBOURS`` = 10) by the mean over modalities of the raw features' cosine
        similarity (:func:`~pyg_mmrec.graph.content_profile`). Edges run one way, so the
        training items' representations stay what training made them."""
        k = getattr(self, 'knn_k', NEW_ITEM_NEIGHBOURS)
        train = {m: data['item'][feature_key(m)] for m in features}
        return knn_to_features(content_profile(features), content_profile(train), k)

    def on_epoch_start(self, epoch: int) -> None:
        """Called by the trainer before each training epoch (models that rebuild a structure
        once per epoch override it)."""

    def on_step_end(self) -> None:
        """Called by the trainer after each optimisation step (the step on :meth:`loss` and
        those of its :meth:`stages`), outside autograd: models that update a state without
        gradients once per step override it (e.g. :class:`~pyg_mmrec.nn.models.BUIR`'s
        momentum target)."""

    def stages(self) -> list[Stage]:
        """Further optimisation steps the trainer takes after each step on :meth:`loss`
        (see :class:`Stage`); none by default."""
        return []

    def forward(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """Returns the user representations ``[U, d]`` and item representations ``[I, d]``
        computed from the training view ``data``."""
        out = self.encode(data)
        return out.user, out.item

    @contextlib.contextmanager
    def perturb_hidden(self, hook: Callable[[Tensor], Tensor]) -> Iterator[None]:
        r"""Within the ``with`` block, the hidden layer :math:`\mathbf{H}` is replaced by
        ``hook(H)`` in every forward pass (e.g. ``lambda h: h + 0.01 * torch.randn_like(h)``)."""
        previous, self._hidden_hook = self._hidden_hook, hook
        try:
            yield
        finally:
            self._hidden_hook = previous

    def split_nodes(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""The user rows and the item rows of a node table ``[users + items, d]``, where both
        are used. One split rather than two slices: the backward pass then joins the two
        gradients, where a slice's would fill a zero table of the full size for each (the same
        values). (For one part alone a slice costs the same.)"""
        return x.split([self.num_users, x.size(0) - self.num_users])

    def hidden(self, h: Tensor) -> Tensor:
        r"""Marks ``h`` as the model's hidden layer :math:`\mathbf{H}`: subclasses pass it
        through here, which applies the hook of :meth:`perturb_hidden`, if any."""
        return h if self._hidden_hook is None else self._hidden_hook(h)

    @contextlib.contextmanager
    def share_passes(self) -> Iterator[None]:
        r"""Within the ``with`` block, each computation that :meth:`encode` marks with
        :meth:`shared` runs in the first forward pass only, and later passes reuse its output
        (the same tensor, so that the backward pass goes through it once, with the gradients
        of all passes summed). For a plug-in that runs the backbone several times per step at
        the same parameters and inputs, differing only in the hook of :meth:`perturb_hidden`
        (DVIB's clean and perturbed passes) or of :meth:`perturb_item_graph` (IBMRec's masked
        and reference passes): it recomputes only what depends on :math:`\mathbf{H}`, on the
        item graph's weights, or draws random numbers."""
        previous, self._shared = self._shared, {}
        try:
            yield
        finally:
            self._shared = previous

    def shared(self, key: str, compute: Callable[[], Any], reads_hidden: bool = False) -> Any:
        r"""``compute()``, or inside :meth:`share_passes` its output from an earlier forward
        pass of the block under the same ``key``. Subclasses mark with it the parts of
        :meth:`encode` that do not depend on the hidden layer :math:`\mathbf{H}` (everything
        before :meth:`hidden`, and what after it reads only the parameters and the data) nor
        on the weights returned by :meth:`item_graph_weight` (which a hook may change), draw
        no random numbers and are differentiated alike in every pass (not a cache that the
        first pass fills with gradients and later passes read detached), so that reusing them
        changes neither a result nor the random stream. A part that reads :math:`\mathbf{H}`
        (``reads_hidden``) is shared only between passes under the same hook of
        :meth:`perturb_hidden` (IBMRec's masked and reference passes, none), never between
        DVIB's clean and perturbed ones."""
        if self._shared is None:
            return compute()
        if reads_hidden:
            key = (key, self._hidden_hook)
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    @contextlib.contextmanager
    def perturb_item_graph(self, hook: Callable[..., Tensor]) -> Iterator[None]:
        r"""Within the ``with`` block, models that propagate over an item-item graph
        :math:`\mathbf{S}` (LATTICE, VLATTICE) use the edge weights
        ``hook(edge_index, edge_weight, collaborative, multimedia)`` instead, computed from the
        items' collaborative states ``[I, d]`` and multimedia states ``[I, d']`` (:obj:`None`
        for a model without features); the edges stay the same (e.g. IBMRec's GIB mask)."""
        previous, self._item_graph_hook = self._item_graph_hook, hook
        try:
            yield
        finally:
            self._item_graph_hook = previous

    def item_graph_weight(self, edge_index: Tensor, edge_weight: Tensor, collaborative: Tensor,
                          multimedia: Tensor | None) -> Tensor:
        r"""Marks ``(edge_index, edge_weight)`` as the model's item-item graph: subclasses pass
        its weights through here, which applies the hook of :meth:`perturb_item_graph`, if
        any."""
        if self._item_graph_hook is None:
            return edge_weight
        return self._item_graph_hook(edge_index, edge_weight, collaborative, multimedia)

    def adjacency(self, data: HeteroData) -> Tensor:
        """The normalised user-item adjacency of ``data``'s training graph (see
        :func:`~pyg_mmrec.graph.user_item_adjacency`), built once and cached."""
        edge_index = self.train_edge_index(data)
        key = (edge_index.data_ptr(), edge_index.size(1))
        if key != self._adj_key:
            self._adj = user_item_adjacency(edge_index, self.num_users, self.num_items)
            self._adj_key = key
        return self._adj

    @classmethod
    def offered_capabilities(cls, config: Mapping[str, Any] | None = None
                             ) -> frozenset[Capability]:
        """The capabilities of the model that ``config`` (the user's settings) builds: its
        :attr:`capabilities` (a plug-in's are those of its backbone, whose hooks it passes
        on), for a training method that needs one (e.g. :class:`~pyg_mmrec.train.AMR`)."""
        return cls.capabilities

    @contextlib.contextmanager
    def perturb_features(self, hook: Callable[[str, Tensor], Tensor]) -> Iterator[None]:
        r"""Within the ``with`` block, models with :attr:`Capability.MODALITY` read the raw
        features :math:`\mathbf{M}^k` of modality ``k`` as ``hook(k, M^k)`` in every forward
        pass (e.g. AMR's adversarial :math:`\mathbf{M}^k + \boldsymbol{\Delta}^k`); graphs
        computed from the features before training stay as they are."""
        previous, self._feature_hook = self._feature_hook, hook
        try:
            yield
        finally:
            self._feature_hook = previous

    def item_features(self, data: HeteroData) -> dict[str, Tensor]:
        r"""The raw modality features :math:`\mathbf{M}^k` of ``data``, by modality, as the
        hook of :meth:`perturb_features` (if one is set) returns them."""
        features = {m: data['item'][feature_key(m)] for m in modalities(data)}
        if self._feature_hook is None:
            return features
        return {m: self._feature_hook(m, x) for m, x in features.items()}

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        """The layer-0 rows of a batch that the L2 regulariser acts on: free parameters, or
        states the forward pass ``out`` computed (e.g. VBPR's projected item content)."""
        raise NotImplementedError

    def loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor) -> dict[str, Tensor]:
        """The training objective on a batch of BPR triplets, as a dict whose ``'loss'`` entry
        is minimised and whose other entries are its weighted terms (for logging): the
        :meth:`batch_loss` of one forward pass."""
        return self.batch_loss(self.encode(data), user, pos, neg)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        """The objective of a batch given the forward pass ``out`` (the IB plug-ins call it on
        their own, e.g. perturbed, forward passes); by default BPR plus L2."""
        u, i, j = out.user[user], out.item[pos], out.item[neg]
        bpr = MF.bpr_loss((u * i).sum(-1), (u * j).sum(-1))
        ego = (u, i, j) if self.scores_layer0 else self.ego_embeddings(user, pos, neg, out)
        l2 = self.reg_weight * MF.l2_reg(*ego)
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
