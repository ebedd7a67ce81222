"""Information-bottleneck methods: the plug-ins IBMRec and DVIB, which wrap a backbone model
without editing it, and MSI, a variant of BM3; and the plug-in SGFD, the feature-distillation
denoising method IBMRec compares with."""
from pyg_mmrec.ib.diagnostics import feature_dependence, hidden_scale, noise_scale
from pyg_mmrec.ib.dvib import DVIB, NoiseScale
from pyg_mmrec.ib.ibmrec import IBMRec
from pyg_mmrec.ib.msi import MSI, MSIEncoded, view_embeddings
from pyg_mmrec.ib.plugin import PlugIn
from pyg_mmrec.ib.sgfd import SGFD, interaction_categories

__all__ = ['PlugIn', 'DVIB', 'NoiseScale', 'hidden_scale', 'noise_scale']
__all__ += ['MSI', 'MSIEncoded', 'view_embeddings']
__all__ += ['IBMRec', 'feature_dependence']
__all__ += ['SGFD', 'interaction_categories']
