"""Recommendation models (one class per file)."""
import importlib
import pkgutil

from pyg_mmrec.nn.models.bm3 import BM3, BM3Encoded
from pyg_mmrec.nn.models.bpr_mf import BPRMF
from pyg_mmrec.nn.models.buir import BUIR, BUIREncoded
from pyg_mmrec.nn.models.dualgnn import DualGNN
from pyg_mmrec.nn.models.freedom import FREEDOM
from pyg_mmrec.nn.models.grcn import GRCN
from pyg_mmrec.nn.models.invrl import InvRL, InvRLEncoded
from pyg_mmrec.nn.models.itemknn_cbf import ItemKNNCBF
from pyg_mmrec.nn.models.lattice import LATTICE
from pyg_mmrec.nn.models.layergcn import LayerGCN
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.micro import MICRO, MICROEncoded
from pyg_mmrec.nn.models.mmgcn import MMGCN
from pyg_mmrec.nn.models.modality_preference import ModalityPreferenceRecommender
from pyg_mmrec.nn.models.pop import Pop
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender, Stage
from pyg_mmrec.nn.models.selfcf import SelfCF
from pyg_mmrec.nn.models.sgl import SGL, SGLEncoded
from pyg_mmrec.nn.models.vbpr import VBPR
from pyg_mmrec.nn.models.vlattice import VLATTICE
from pyg_mmrec.nn.models.vlightgcn import VLightGCN

__all__ = [
    'BM3',
    'BM3Encoded',
    'BPRMF',
    'BUIR',
    'BUIREncoded',
    'Capability',
    'DualGNN',
    'Encoded',
    'FREEDOM',
    'GRCN',
    'InvRL',
    'InvRLEncoded',
    'ItemKNNCBF',
    'LATTICE',
    'LayerGCN',
    'LightGCN',
    'MICRO',
    'MICROEncoded',
    'MMGCN',
    'ModalityPreferenceRecommender',
    'Pop',
    'Recommender',
    'SelfCF',
    'SGL',
    'SGLEncoded',
    'Stage',
    'VBPR',
    'VLATTICE',
    'VLightGCN',
]

# Every module of this package is imported, so that a model registers itself (@register) by
# having its file here: adding a model touches no other file of the library.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f'{__name__}.{_module.name}')
