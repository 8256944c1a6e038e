"""galinfo.knn: exact nearest neighbours in a latent space and CLAP-style adaptive-k KNN pdfs."""

from galinfo.knn.adaptive import CLAP_K_GRID, AdaptiveKNN, KNNResult
from galinfo.knn.search import ExactKNN, knn_search

__all__ = ["CLAP_K_GRID", "AdaptiveKNN", "ExactKNN", "KNNResult", "knn_search"]
