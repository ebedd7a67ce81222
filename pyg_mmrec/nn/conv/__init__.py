"""Message-passing layers."""
from pyg_mmrec.nn.conv.item_item_conv import ItemItemConv, fuse_item_graphs
from pyg_mmrec.nn.conv.lightgcn_conv import (
    LightGCNConv,
    user_item_adjacency,
    user_item_edge_index,
)

__all__ = [
    'ItemItemConv',
    'LightGCNConv',
    'fuse_item_graphs',
    'user_item_adjacency',
    'user_item_edge_index',
]
