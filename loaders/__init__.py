"""Sources → triples. Each module fills one named graph (see ``loaders/base.py``).

``LOADERS`` is the order the build runs them in: countries and the gazetteer
first, because the twinnings, memberships and curated facts point at their
IRIs.
"""

LOADERS: tuple[str, ...] = (
    "loaders.ontology",
    "loaders.countries",
    "loaders.gazetteer",
    "loaders.links",
    "loaders.wikidata_twinnings",
    "loaders.c40",
    "loaders.curated",
)
