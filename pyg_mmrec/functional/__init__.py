"""Losses as pure functions of tensors (``import pyg_mmrec.functional as MF``)."""
from pyg_mmrec.functional.losses import bpr_loss, l2_reg

__all__ = ['bpr_loss', 'l2_reg']
