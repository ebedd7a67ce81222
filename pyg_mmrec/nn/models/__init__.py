"""Recommendation models (one class per file)."""
from pyg_mmrec.nn.models.bpr_mf import BPRMF
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Recommender

__all__ = ['BPRMF', 'LightGCN', 'Recommender']
