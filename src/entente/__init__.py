"""Entente: the cooperation hub of a partnership of national CERTs."""

__version__ = "0.1.0"
