"""Amity: the knowledge graph and SPARQL endpoint for city diplomacy."""

__version__ = "0.1.0"
