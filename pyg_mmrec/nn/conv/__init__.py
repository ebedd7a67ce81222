"""Message-passing layers."""
from pyg_mmrec.nn.conv.lightgcn_conv import (
    LightGCNConv,
    user_item_adjacency,
    user_item_edge_index,
)

__all__ = ['LightGCNConv', 'user_item_adjacency', 'user_item_edge_index']
