r"""The embedded default dataset: seeded synthetic interactions with planted structure."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from pyg_mmrec.data.splits import DataSplits, from_arrays, split_per_user
from pyg_mmrec.errors import ConfigError

DEFAULT_MODALITIES = {'image': (32, 16, 16), 'text': (24, 12, 12)}


def make_synthetic(
    num_users: int = 2000,
    num_items: int = 1000,
    latent_dim: int = 16,
    mean_interactions: float = 20.0,
    min_interactions: int = 5,
    popularity_exponent: float = 0.5,
    temperature: float = 0.3,
    modalities: Mapping[str, tuple[int, int, int]] | None = None,
    irrelevant_share: float = 0.5,
    num_nuisance_clusters: int = 20,
    seed: int = 2024,
) -> DataSplits:
    r"""Generates the embedded default dataset: interactions from planted latent factors,
    power-law item popularity, and modality features that mix an informative part with
    task-irrelevant parts.

    **Interactions.** Users and items have latent factors
    :math:`\mathbf{p}_u, \mathbf{q}_i \sim \mathcal{N}(0, \mathbf{I}/d)` of dimension
    :math:`d` = ``latent_dim``. Item popularity follows a power law: item :math:`i` (at a random
    popularity rank :math:`r_i`) gets a bias :math:`b_i = -a \log r_i` with :math:`a` =
    ``popularity_exponent``. User :math:`u` draws :math:`n_u` distinct items without
    replacement from

    .. math::
        P(i \mid u) \propto \exp\big((\mathbf{p}_u^\top \mathbf{q}_i \sqrt{d}) / \tau
        + b_i\big),

    with :math:`\tau` = ``temperature`` and
    :math:`n_u = \min(n_{\min} + \mathrm{Poisson}(\bar n - n_{\min}), |\mathcal{I}|/2)`.
    Interactions are split 8:1:1 per user (:func:`~pyg_mmrec.data.split_per_user`).

    **Modality features.** Each modality :math:`m` with dimensions
    :math:`(d_\text{inf}, d_\text{nuis}, d_\text{noise})` has features

    .. math::
        \mathbf{x}^m_i = \Big[\,a\;\mathbf{q}_i \mathbf{P}_m \;\Big\|\;
        b\;\mathbf{c}^m_{k(i)} \;\Big\|\; c\;\boldsymbol{\epsilon}_i\Big],

    where :math:`\mathbf{q}_i \mathbf{P}_m` is a random projection of the item factors (the
    informative part), :math:`\mathbf{c}^m_{k(i)}` is the centre of a nuisance cluster
    :math:`k(i)` drawn independently of the factors (content shared by unrelated items, e.g. a
    photo style) and :math:`\boldsymbol{\epsilon}_i` is Gaussian noise. Each block is
    standardised per column, then scaled (:math:`a, b, c`) so that of the total feature
    variance, which equals the dimension :math:`D = d_\text{inf} + d_\text{nuis} +
    d_\text{noise}`, the informative block holds :math:`1 - s` and the nuisance and noise blocks
    :math:`s/2` each (all of :math:`s` when the other one is empty), with :math:`s` =
    ``irrelevant_share``: e.g. :math:`a = \sqrt{(1 - s) D / d_\text{inf}}`. The
    task-irrelevant block of each modality is kept as ``data['item'].irrelevant_<m>`` and
    the true factors as ``data['user'].factors`` and ``data['item'].factors``, so that
    methods can be checked against the planted truth.

    Args:
        num_users (int): Number of users. (default: :obj:`2000`)
        num_items (int): Number of items. (default: :obj:`1000`)
        latent_dim (int): Dimension :math:`d` of the latent factors. (default: :obj:`16`)
        mean_interactions (float): Mean interactions per user :math:`\bar n`.
            (default: :obj:`20.0`)
        min_interactions (int): Minimum interactions per user :math:`n_{\min}`.
            (default: :obj:`5`)
        popularity_exponent (float): Power-law exponent :math:`a`. (default: :obj:`0.5`)
        temperature (float): Softmax temperature :math:`\tau`. (default: :obj:`0.3`)
        modalities (dict, optional): Modality name to
            :math:`(d_\text{inf}, d_\text{nuis}, d_\text{noise})`.
            (default: :obj:`{'image': (32, 16, 16), 'text': (24, 12, 12)}`)
        irrelevant_share (float): Share :math:`s \in [0, 1]` of the feature variance that is
            task-irrelevant.
            (default: :obj:`0.5`)
        num_nuisance_clusters (int): Number of nuisance clusters per modality.
            (default: :obj:`20`)
        seed (int): Seed; the same arguments always give the same dataset.
            (default: :obj:`2024`)
    """
    modalities = dict(DEFAULT_MODALITIES if modalities is None else modalities)
    checks = {
        'num_users': num_users >= 2, 'num_items': num_items >= 10, 'latent_dim': latent_dim >= 1,
        'min_interactions': 3 <= min_interactions <= num_items // 2,
        'mean_interactions': mean_interactions >= min_interactions,
        'popularity_exponent': popularity_exponent >= 0, 'temperature': temperature > 0,
        'irrelevant_share': 0.0 <= irrelevant_share <= 1.0,
        'num_nuisance_clusters': num_nuisance_clusters >= 1,
    }
    for key, ok in checks.items():
        if not ok:
            raise ConfigError(f"make_synthetic: invalid {key}={locals()[key]!r}")
    for m, dims in modalities.items():
        if len(dims) != 3 or min(dims) < 0 or sum(dims) == 0:
            raise ConfigError(f"make_synthetic: modality {m!r} needs three non-negative "
                              f"dimensions (informative, nuisance, noise), got {dims!r}")

    rng = np.random.default_rng(seed)
    user_f = rng.normal(0, 1 / np.sqrt(latent_dim), (num_users, latent_dim))
    item_f = rng.normal(0, 1 / np.sqrt(latent_dim), (num_items, latent_dim))
    bias = -popularity_exponent * np.log(rng.permutation(num_items) + 1.0)

    n_u = min_interactions + rng.poisson(mean_interactions - min_interactions, num_users)
    n_u = np.minimum(n_u, num_items // 2)
    logits = user_f @ item_f.T * np.sqrt(latent_dim) / temperature + bias
    # Gumbel top-k draws n_u items without replacement from softmax(logits), per user.
    ranked = np.argsort(-(logits + rng.gumbel(size=logits.shape)), axis=1)
    user = np.repeat(np.arange(num_users), n_u)
    item = np.concatenate([ranked[u, :n] for u, n in enumerate(n_u)])
    split = split_per_user(user, num_users, seed=seed)

    def standardise(x: np.ndarray) -> np.ndarray:
        return (x - x.mean(0)) / (x.std(0) + 1e-12)

    features, irrelevant = {}, {}
    for m, (d_inf, d_nuis, d_noise) in modalities.items():
        informative = standardise(item_f @ rng.normal(size=(latent_dim, d_inf)))
        centres = rng.normal(size=(num_nuisance_clusters, d_nuis))
        nuisance = standardise(centres[rng.integers(num_nuisance_clusters, size=num_items)])
        noise = rng.normal(size=(num_items, d_noise))
        total = d_inf + d_nuis + d_noise
        nuis_share = irrelevant_share if d_noise == 0 else irrelevant_share / 2
        noise_share = irrelevant_share - nuis_share if d_nuis else irrelevant_share

        def scaled(block: np.ndarray, share: float, total: int = total) -> np.ndarray:
            return block * np.sqrt(share * total / block.shape[1]) if block.shape[1] else block

        irr = np.concatenate([scaled(nuisance, nuis_share), scaled(noise, noise_share)], axis=1)
        features[m] = np.concatenate([scaled(informative, 1 - irrelevant_share), irr], axis=1)
        irrelevant[m] = irr

    splits = from_arrays(user, item, split, num_users=num_users, num_items=num_items,
                         features={m: f.astype(np.float32) for m, f in features.items()},
                         name='synthetic')
    for view in splits:
        view['user'].factors = torch.from_numpy(user_f).float()
        view['item'].factors = torch.from_numpy(item_f).float()
        for m, irr in irrelevant.items():
            view['item'][f'irrelevant_{m}'] = torch.from_numpy(irr).float()
    return splits
