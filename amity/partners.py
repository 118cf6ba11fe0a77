"""Partner institutions, their bearer tokens, and which graphs each may write.

A partner is a slug (``unesco``) that owns ``graph/partner/unesco`` and every graph below it
(``graph/partner/unesco/twinnings``); every other graph is reference data or another partner's, and is never
writable with its token. The registry is a small JSON file next to the store (``partners.json``), so a
rebuild, which replaces the store's directories, keeps it, and it is written under the store's write lock,
atomically (write, fsync, rename), like ``CURRENT``.

Only the SHA-256 of a token is kept: the token itself is shown once, when the partner is added. Tokens are 256
random bits, so a plain hash is enough (no slow password hash), and checking one costs the same whatever the
token: the hash is compared with every registered hash in constant time, always including a dummy one, so
neither the timing nor the code path tells whether a partner exists, or which one was close.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from amity import iris
from amity.problems import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from amity.store import EmbeddedStore

#: A partner name, and every segment of a graph IRI below a partner's own graph.
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PARTNER_GRAPHS = iris.GRAPH + "partner/"
REGISTRY_FILE = "partners.json"
#: Compared against when no partner is registered, so the work done never depends on the registry's size
#: being zero or not.
_DUMMY_HASH = hashlib.sha256(b"no partner has this token").hexdigest()


@dataclass(frozen=True)
class Partner:
    name: str
    token_sha256: str
    created: str
    revoked: str | None = None

    @property
    def iri(self) -> str:
        """The partner as a PROV agent in the provenance graph."""
        return partner_iri(self.name)

    @property
    def graph(self) -> str:
        return iris.partner_graph(self.name)

    @property
    def active(self) -> bool:
        return self.revoked is None


def partner_iri(name: str) -> str:
    return f"{iris.ID}partner/{name}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def owner_of(graph: str) -> str | None:
    """The partner whose space a graph IRI lies in, or None for every other graph.

    >>> owner_of("https://w3id.org/citydiplomacy/graph/partner/unesco/twinnings")
    'unesco'
    >>> owner_of("https://w3id.org/citydiplomacy/graph/gazetteer") is None
    True
    """
    if not graph.startswith(PARTNER_GRAPHS):
        return None
    name = graph[len(PARTNER_GRAPHS):].split("/", 1)[0]
    return name if SLUG.match(name) else None


def graph_key(graph: str) -> str:
    """The path of a partner graph below ``graph/partner/``: names its history and its merge activities.

    >>> graph_key("https://w3id.org/citydiplomacy/graph/partner/unesco/twinnings")
    'unesco/twinnings'

    :raises BadRequest: when a segment is not a slug (so the key is always a safe relative file path).
    """
    if owner_of(graph) is None:
        raise BadRequest(f"<{graph}> is not a partner graph")
    key = graph[len(PARTNER_GRAPHS):]
    if not all(SLUG.match(segment) for segment in key.split("/")):
        raise BadRequest(
            f"<{graph}>: a partner graph is {PARTNER_GRAPHS}NAME, optionally followed by /segment parts, "
            "each "
            "lower-case letters, digits and '-' (starting with a letter or digit)"
        )
    return key


def check_writable(partner: Partner, graph: str) -> str:
    """The graph's key if ``partner`` may write it.

    :raises Forbidden: for reference graphs and other partners' graphs.
    :raises BadRequest: for a graph in the partner's space whose IRI breaks the naming rule.
    """
    owner = owner_of(graph)
    if owner is None:
        raise Forbidden(f"<{graph}> is not a partner graph: partners write only below <{partner.graph}>")
    if owner != partner.name:
        raise Forbidden(f"<{graph}> belongs to another partner: {partner.name!r} writes only below "
                        f"<{partner.graph}>")
    return graph_key(graph)


class Registry:
    """The partners of one store root."""

    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store
        self.path = Path(store.root) / REGISTRY_FILE

    # -- reading ---------------------------------------------------------------------------------------------

    def _load(self) -> dict[str, Partner]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {name: Partner(**fields) for name, fields in data.get("partners", {}).items()}

    def all(self) -> list[Partner]:
        return sorted(self._load().values(), key=lambda p: p.name)

    def get(self, name: str) -> Partner:
        partner = self._load().get(name)
        if partner is None:
            raise NotFound(f"there is no partner {name!r}")
        return partner

    def authenticate(self, token: str | None) -> Partner:
        """The active partner holding ``token``.

        :raises Unauthorized: for a missing, unknown or revoked token (one message for all three).
        """
        digest = token_hash(token or "")
        found: Partner | None = None
        for partner in [*self._load().values(), None]:
            expected = partner.token_sha256 if partner is not None else _DUMMY_HASH
            # No early exit: every hash is compared, whatever matched before.
            if hmac.compare_digest(digest, expected) and partner is not None and partner.active:
                found = partner
        if found is None or not token:
            raise Unauthorized("a valid partner token is required: send 'Authorization: Bearer TOKEN'")
        return found

    # -- writing (under the store's write lock) --------------------------------------------------------------

    def add(self, name: str, *, replace_token: bool = False) -> tuple[Partner, str]:
        """Register ``name`` and return it with its new token (the only time the token is seen).

        ``replace_token`` issues a new token for an existing (or revoked) partner; the old one stops working.
        """
        if not SLUG.match(name):
            raise BadRequest(f"partner name {name!r}: use lower-case letters, digits and '-' "
                             "(starting with a letter or digit)")
        token = secrets.token_urlsafe(32)
        with self.store.write_lock():
            partners = self._load()
            if name in partners and not replace_token:
                raise Conflict(f"partner {name!r} exists already (issue a new token with --replace-token)")
            created = partners[name].created if name in partners else _now()
            partners[name] = Partner(name, token_hash(token), created)
            self._save(partners)
        return partners[name], token

    def revoke(self, name: str) -> Partner:
        """Make the partner's token useless; its graphs and their history stay."""
        with self.store.write_lock():
            partners = self._load()
            if name not in partners:
                raise NotFound(f"there is no partner {name!r}")
            if partners[name].active:
                partners[name] = Partner(**{**asdict(partners[name]), "revoked": _now()})
                self._save(partners)
            return partners[name]

    def _save(self, partners: dict[str, Partner]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = {"partners": {name: asdict(p) for name, p in sorted(partners.items())}}
        with open(tmp, "w") as out:
            json.dump(body, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, None when there is none.

    >>> bearer_token("Bearer abc")
    'abc'
    >>> bearer_token("Basic abc") is None
    True
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
