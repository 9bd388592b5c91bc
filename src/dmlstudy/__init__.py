"""Contrastive vs triplet loss study: data, models, losses, training, metrics, tables."""

__version__ = "0.1.0"
