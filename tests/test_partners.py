"""Partners and their tokens: registry, authentication, which graphs are whose, and the command line."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import stat

import pytest
from click.testing import CliRunner
from pyoxigraph import NamedNode

from amity import history, iris, merge
from amity.cli import cli
from amity.external import ExternalStore
from amity.partners import Registry, bearer_token, check_writable, graph_key, owner_of, token_hash
from amity.problems import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tests.remote_stores import cli as store_cli
from tests.test_merge import (
    PARTNER,
    PARTNER_GRAPH,
    dump,
    expand,
    make_reference_store,
    reference_store_for,
    twinning_turtle,
)

pytestmark = pytest.mark.both_stores


@pytest.fixture
def store(store_kind, tmp_path, request):
    return reference_store_for(store_kind, tmp_path / "store", request)


def test_a_token_is_kept_only_as_its_sha256(store):
    partner, token = Registry(store).add(PARTNER)
    assert len(token) >= 43 and partner.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    text = (store.root / "partners.json").read_text()
    assert token not in text and partner.token_sha256 in text
    assert stat.S_IMODE((store.root / "partners.json").stat().st_mode) == 0o600
    assert Registry(store).authenticate(token) == partner


def test_unknown_missing_and_revoked_tokens_are_refused_alike(store):
    registry = Registry(store)
    _partner, token = registry.add(PARTNER)
    other, other_token = registry.add("unctad")
    messages = set()
    for bad in (None, "", "x", token[:-1], token + "x"):
        with pytest.raises(Unauthorized) as caught:
            registry.authenticate(bad)
        messages.add(caught.value.detail)
        assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    registry.revoke(PARTNER)
    with pytest.raises(Unauthorized) as caught:
        registry.authenticate(token)
    messages.add(caught.value.detail)
    assert len(messages) == 1
    assert registry.authenticate(other_token) == other
    renewed, new_token = registry.add(PARTNER, replace_token=True)
    assert renewed.active and registry.authenticate(new_token).name == PARTNER
    with pytest.raises(Unauthorized):
        registry.authenticate(token)


def test_the_check_does_the_same_work_whether_the_partner_exists_or_not(store, monkeypatch):
    """Every registered hash and one dummy are compared, with no early exit: same calls for any token."""
    registry = Registry(store)
    _partner, token = registry.add(PARTNER)
    registry.add("unctad")
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    counts = []
    for candidate in (token, "unknown-token", None):
        calls.clear()
        with contextlib.suppress(Unauthorized):
            registry.authenticate(candidate)
        counts.append(len(calls))
    assert counts == [3, 3, 3]
    other_root = store.root.parent / "empty"  # the registry lives in the store's (state) directory
    empty = Registry(ExternalStore(store.client, other_root) if isinstance(store, ExternalStore)
                     else make_reference_store(other_root))
    calls.clear()
    with pytest.raises(Unauthorized):
        empty.authenticate(token)
    assert len(calls) == 1


def test_names_and_graph_ownership(store):
    registry = Registry(store)
    with pytest.raises(BadRequest):
        registry.add("Not A Slug")
    partner, _token = registry.add(PARTNER)
    with pytest.raises(Conflict):
        registry.add(PARTNER)
    assert owner_of(PARTNER_GRAPH + "/a/b") == PARTNER and owner_of(iris.graph("gazetteer")) is None
    assert check_writable(partner, PARTNER_GRAPH) == PARTNER
    assert check_writable(partner, PARTNER_GRAPH + "/twinnings/2024") == "unesco/twinnings/2024"
    for graph in (iris.graph("gazetteer"), iris.partner_graph("unctad"), PARTNER_GRAPH + "-x",
                  iris.graph("partner"), "http://example.org/graph"):
        with pytest.raises(Forbidden):
            check_writable(partner, graph)
    for graph in (PARTNER_GRAPH + "/", PARTNER_GRAPH + "/../x", PARTNER_GRAPH + "/a.b", PARTNER_GRAPH + "/A"):
        with pytest.raises(BadRequest):
            graph_key(graph)
    assert bearer_token("Bearer  abc ") == "abc" and bearer_token("bearer abc") == "abc"
    assert bearer_token("Bearer") is None and bearer_token(None) is None
    assert token_hash("a") != token_hash("b")


def test_cli_add_list_revoke(store):
    args, env = store_cli(store)
    runner = CliRunner()
    result = runner.invoke(cli, ["partner", "add", PARTNER, *args], env=env)
    assert result.exit_code == 0, result.output
    token = result.output.rstrip("\n").splitlines()[-1]
    assert token not in result.output.rstrip("\n").splitlines()[0]
    assert Registry(store).authenticate(token).name == PARTNER
    listed = runner.invoke(cli, ["partner", "list", *args], env=env)
    assert PARTNER in listed.output and "active" in listed.output and token not in listed.output
    again = runner.invoke(cli, ["partner", "add", PARTNER, *args], env=env)
    assert again.exit_code != 0
    revoked = runner.invoke(cli, ["partner", "revoke", PARTNER, *args], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with pytest.raises(Unauthorized):
        Registry(store).authenticate(token)
    assert "revoked" in runner.invoke(cli, ["partner", "list", *args], env=env).output


def test_cli_rollback_and_validate(store, tmp_path):
    args, env = store_cli(store)
    partner, _token = Registry(store).add(PARTNER)
    for i, (a, b) in enumerate([("Q170322", "Q90"), ("Q956", "Q649")]):
        path = tmp_path / f"v{i}.ttl"
        path.write_text(expand(twinning_turtle(a, b)))
        merge.merge(store, partner, PARTNER_GRAPH, merge.from_file(path), operation="replace")
    runner = CliRunner()
    result = runner.invoke(cli, ["partner", "rollback", PARTNER, "--graph", PARTNER_GRAPH, "--to", "1",
                                 *args], env=env)
    assert result.exit_code == 0, result.output
    assert [v.operation for v in history.versions(store.reader(), PARTNER_GRAPH)] == ["replace", "replace",
                                                                                     "rollback"]
    subjects = {q.subject.value for q in store.reader().quads_for_pattern(None, None, None,
                                                                          NamedNode(PARTNER_GRAPH))}
    assert subjects == {iris.twinning("Q90", "gn-1797929")}
    with pytest.raises(NotFound):
        merge.rollback(store, partner, PARTNER_GRAPH, 12)

    before = dump(store)
    good = tmp_path / "good.ttl"
    good.write_text(expand(twinning_turtle("Q656", "Q170322", status="suspended", start="1993")))
    checked = runner.invoke(cli, ["validate", str(good), *args], env=env)
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("conforms") and "conflict" in checked.output
    as_json = json.loads(runner.invoke(cli, ["validate", str(good), "--json", *args], env=env).output)
    assert as_json["dry_run"] and as_json["conflict_count"] == 2
    bad = tmp_path / "bad.ttl"
    bad.write_text(expand(twinning_turtle("Q656", "Q90").replace("cdo:status ts:formal ;", "")))
    refused = runner.invoke(cli, ["validate", str(bad), *args], env=env)
    assert refused.exit_code == 1 and "violation" in refused.output and "cdo:status" in refused.output
    assert dump(store) == before
