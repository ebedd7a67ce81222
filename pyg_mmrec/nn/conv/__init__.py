"""Message-passing layers (the graph builders they take, :func:`user_item_adjacency`,
:func:`user_item_edge_index` and :func:`fuse_item_graphs`, live in :mod:`pyg_mmrec.graph`
and are re-exported here)."""
from pyg_mmrec.graph import fuse_item_graphs, user_item_adjacency, user_item_edge_index
from pyg_mmrec.nn.conv.content_conv import ContentConv
from pyg_mmrec.nn.conv.item_item_conv import ItemItemConv
from pyg_mmrec.nn.conv.layer_refined_conv import LayerRefinedConv
from pyg_mmrec.nn.conv.lightgcn_conv import LightGCNConv
from pyg_mmrec.nn.conv.mmgcn_conv import MMGCNConv
from pyg_mmrec.nn.conv.preference_mask_conv import PreferenceMaskConv

__all__ = [
    'ContentConv',
    'ItemItemConv',
    'LayerRefinedConv',
    'LightGCNConv',
    'MMGCNConv',
    'PreferenceMaskConv',
    'fuse_item_graphs',
    'user_item_adjacency',
    'user_item_edge_index',
]
