"""Losses as pure functions of tensors (``import pyg_mmrec.functional as MF``)."""
from pyg_mmrec.functional.dependence import cka, hsic, info_nce, info_nce_candidates
from pyg_mmrec.functional.divergences import (
    average_kl,
    distillation_kl,
    dvib_regularizer,
    js_divergence,
    softmax_kl,
)
from pyg_mmrec.functional.losses import (
    bpr_loss,
    cosine_loss,
    gradient_variance,
    l2_reg,
    norm_reg,
)

__all__ = ['bpr_loss', 'l2_reg', 'average_kl', 'js_divergence', 'softmax_kl', 'distillation_kl',
           'dvib_regularizer', 'info_nce', 'info_nce_candidates', 'hsic', 'cka', 'cosine_loss',
           'norm_reg', 'gradient_variance']
