"""Full-ranking top-K evaluation (Recall, NDCG, Precision, MAP, HitRate @ K)."""
from pyg_mmrec.metrics.ranking import (
    DEFAULT_KS,
    METRIC_NAMES,
    RankingEvaluator,
    ranking_metrics,
)

__all__ = ['DEFAULT_KS', 'METRIC_NAMES', 'RankingEvaluator', 'ranking_metrics']
