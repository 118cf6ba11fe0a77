"""Every version of a partner graph, and the record of the merge that made it.

Two halves, kept apart on purpose:

* the **record** is RDF in ``graph/provenance`` (PROV-O): one ``prov:Activity`` per merge with the
  deterministic IRI ``id/merge/{graph key}/{n}``, the upload it used (``#upload``: size, SHA-256, format,
  triples) and the graph version it generated (``#version``: triples, ``prov:wasRevisionOf`` the previous
  version). It is part of the published snapshot, so it changes atomically with the graph, and anyone can
  query it.
* the **content** of each version is a gzipped N-Quads file, ``history/{graph key}/v{n:04d}.nq.gz`` next to
  the store. Not a named graph: the endpoint's default graph is the union of all named graphs, and old
  versions must not show up in it.

The record is the source of truth: a version exists when the snapshot records it. The file is written before
the snapshot that records it is published, so a recorded version always has its file; a file left by a write
that then failed is simply overwritten by the next merge of that graph, which gets the same number.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store, parse, serialize

from amity import iris
from amity.ns import DCTERMS, PROV, RDF, RDFS, SCHEMA, VOID, XSD, Namespace

PROVENANCE_GRAPH = iris.graph("provenance")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
HISTORY_DIR = "history"

#: What a merge did to its graph (``dcterms:type`` of the activity).
OPERATIONS = ("replace", "add", "delete", "rollback")


def activity_iri(key: str, version: int) -> str:
    """The merge that made version ``version`` of the graph with key ``key``.

    >>> activity_iri("unesco/twinnings", 3)
    'https://w3id.org/citydiplomacy/id/merge/unesco/twinnings/3'
    """
    return f"{iris.ID}merge/{key}/{version}"


def version_path(root: Path, key: str, version: int) -> Path:
    return Path(root) / HISTORY_DIR / key / f"v{version:04d}.nq.gz"


@dataclass(frozen=True)
class Version:
    """One recorded version of a graph, as ``GET /store/history`` lists it."""

    version: int
    graph: str
    operation: str
    partner: str
    time: str
    triples: int  # in the graph after the merge
    activity: str
    previous: int | None = None
    upload_bytes: int | None = None
    upload_sha256: str | None = None
    upload_format: str | None = None
    upload_triples: int | None = None
    restored: int | None = None  # for a rollback: the version restored

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Merge:
    """What :func:`record` writes for one merge."""

    graph: str
    key: str
    version: int
    operation: str
    partner_iri: str
    partner_name: str
    started: str
    ended: str
    triples: int
    upload_bytes: int | None = None
    upload_sha256: str | None = None
    upload_format: str | None = None
    upload_triples: int | None = None
    restored: int | None = None


def record(merge: Merge) -> list[Quad]:
    """The provenance quads of one merge (a handful: they go in with one small ``extend``)."""
    g = NamedNode(PROVENANCE_GRAPH)
    activity = NamedNode(activity_iri(merge.key, merge.version))
    version = NamedNode(activity.value + "#version")
    partner = NamedNode(merge.partner_iri)
    when = XSD.dateTime
    triples = [
        (activity, RDF.type, PROV.Activity),
        (activity, DCTERMS.type, Literal(merge.operation)),
        (activity, PROV.wasAssociatedWith, partner),
        (activity, PROV.startedAtTime, Literal(merge.started, datatype=when)),
        (activity, PROV.endedAtTime, Literal(merge.ended, datatype=when)),
        (activity, PROV.generated, version),
        (version, RDF.type, PROV.Entity),
        (version, PROV.specializationOf, NamedNode(merge.graph)),
        (version, SCHEMA.version, Literal(str(merge.version), datatype=XSD.integer)),
        (version, VOID.triples, Literal(str(merge.triples), datatype=XSD.integer)),
        (version, PROV.wasGeneratedBy, activity),
        (version, PROV.wasAttributedTo, partner),
        (version, PROV.generatedAtTime, Literal(merge.ended, datatype=when)),
        (partner, RDF.type, PROV.Agent),
        (partner, RDF.type, PROV.Organization),
        (partner, RDFS.label, Literal(merge.partner_name)),
    ]
    if merge.version > 1:
        triples.append((version, PROV.wasRevisionOf,
                        NamedNode(activity_iri(merge.key, merge.version - 1) + "#version")))
    if merge.upload_sha256 is not None:
        upload = NamedNode(activity.value + "#upload")
        triples += [
            (activity, PROV.used, upload),
            (upload, RDF.type, PROV.Entity),
            (upload, SCHEMA.sha256, Literal(merge.upload_sha256)),
            (upload, DCAT.byteSize, Literal(str(merge.upload_bytes), datatype=XSD.nonNegativeInteger)),
            (upload, DCTERMS["format"], Literal(merge.upload_format or "")),
            (upload, VOID.triples, Literal(str(merge.upload_triples), datatype=XSD.integer)),
        ]
    if merge.restored is not None:
        triples.append((activity, PROV.used, NamedNode(activity_iri(merge.key, merge.restored) + "#version")))
    return [Quad(s, p, o, g) for s, p, o in triples]


_LIST = f"""
PREFIX prov: <{PROV.base}> PREFIX schema: <{SCHEMA.base}> PREFIX void: <{VOID.base}>
PREFIX dcterms: <{DCTERMS.base}> PREFIX dcat: <{DCAT.base}> PREFIX rdfs: <{RDFS.base}>
SELECT ?n ?activity ?operation ?partner ?name ?time ?triples ?bytes ?sha ?format ?uploaded ?restored
WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{
  ?version prov:specializationOf GRAPH_IRI ; schema:version ?n ; void:triples ?triples ;
      prov:wasGeneratedBy ?activity .
  ?activity dcterms:type ?operation ; prov:wasAssociatedWith ?partner ; prov:endedAtTime ?time .
  OPTIONAL {{ ?partner rdfs:label ?name }}
  OPTIONAL {{ ?activity prov:used ?upload . ?upload schema:sha256 ?sha ; dcat:byteSize ?bytes ;
              dcterms:format ?format ; void:triples ?uploaded }}
  OPTIONAL {{ ?activity prov:used ?old . ?old schema:version ?restored }}
}} }} ORDER BY ?n"""


def versions(store: Store, graph: str) -> list[Version]:
    """The recorded versions of ``graph``, oldest first."""
    rows = store.query(_LIST.replace("GRAPH_IRI", str(NamedNode(graph))))
    found: dict[int, Version] = {}
    for row in rows:
        n = int(row["n"].value)

        def value(name: str, row=row) -> str | None:
            term = row[name]
            return term.value if term is not None else None

        found[n] = Version(
            version=n, graph=graph, operation=value("operation") or "", partner=value("name") or "",
            time=value("time") or "", triples=int(value("triples") or 0), activity=value("activity") or "",
            previous=n - 1 if n > 1 else None,
            upload_bytes=_int(value("bytes")), upload_sha256=value("sha"), upload_format=value("format"),
            upload_triples=_int(value("uploaded")), restored=_int(value("restored")),
        )
    return [found[n] for n in sorted(found)]


def latest(store: Store, graph: str) -> int:
    """The newest recorded version of ``graph``; 0 when it was never merged."""
    rows = store.query(
        f"""PREFIX prov: <{PROV.base}> PREFIX schema: <{SCHEMA.base}>
            SELECT (MAX(?n) AS ?latest) WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{
              ?version prov:specializationOf {NamedNode(graph)} ; schema:version ?n }} }}""")
    for row in rows:
        if row["latest"] is not None:
            return int(row["latest"].value)
    return 0


def emptied(store: Store, graph: str) -> bool:
    """Whether a partner's last write left ``graph`` without triples (not deleted): the graph exists for Amity,
    though a remote store, which keeps no empty graphs, does not list it."""
    recorded = versions(store, graph)
    return bool(recorded) and recorded[-1].operation != "delete" and recorded[-1].triples == 0


def write_version(root: Path, key: str, version: int, quads: Iterable[Quad]) -> Path:
    """Write a version's content (temporary name, fsync, rename): never half a file under the name."""
    path = version_path(root, key, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
                serialize(quads, out, RdfFormat.N_QUADS)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, a bad quad, an interrupt: leave no half-written file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_version(root: Path, key: str, version: int) -> Iterator[Quad]:
    """The quads of one stored version, streamed."""
    path = version_path(root, key, version)
    with gzip.open(path, "rb") as source:
        yield from parse(source, RdfFormat.N_QUADS)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None
