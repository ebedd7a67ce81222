"""Recommendation models (one class per file)."""
from pyg_mmrec.nn.models.bm3 import BM3, BM3Encoded
from pyg_mmrec.nn.models.bpr_mf import BPRMF
from pyg_mmrec.nn.models.freedom import FREEDOM
from pyg_mmrec.nn.models.grcn import GRCN
from pyg_mmrec.nn.models.lattice import LATTICE
from pyg_mmrec.nn.models.layergcn import LayerGCN
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.mmgcn import MMGCN
from pyg_mmrec.nn.models.modality_preference import ModalityPreferenceRecommender
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender, Stage
from pyg_mmrec.nn.models.selfcf import SelfCF
from pyg_mmrec.nn.models.vbpr import VBPR
from pyg_mmrec.nn.models.vlattice import VLATTICE
from pyg_mmrec.nn.models.vlightgcn import VLightGCN

__all__ = [
    'BM3',
    'BM3Encoded',
    'BPRMF',
    'Capability',
    'Encoded',
    'FREEDOM',
    'GRCN',
    'LATTICE',
    'LayerGCN',
    'LightGCN',
    'MMGCN',
    'ModalityPreferenceRecommender',
    'Recommender',
    'SelfCF',
    'Stage',
    'VBPR',
    'VLATTICE',
    'VLightGCN',
]
