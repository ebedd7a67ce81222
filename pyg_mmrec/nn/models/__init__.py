"""Recommendation models (one class per file)."""
from pyg_mmrec.nn.models.bpr_mf import BPRMF
from pyg_mmrec.nn.models.lattice import LATTICE
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded, Recommender
from pyg_mmrec.nn.models.vbpr import VBPR
from pyg_mmrec.nn.models.vlightgcn import VLightGCN

__all__ = ['BPRMF', 'LATTICE', 'VBPR', 'Encoded', 'LightGCN', 'Recommender', 'VLightGCN']
