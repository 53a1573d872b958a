"""The engine protocol is split by role (`Images`, `Containers`, `Volumes`, `Facts`) and `Engine` is their union:
every verb belongs to exactly one role, and every adapter (Docker, Podman, the tests' fake) offers each verb
with the protocol's own parameters, so a caller typed with a role can be handed any of them."""

from __future__ import annotations

import inspect

from fake_engine import FakeEngine
from slim.engine.base import Containers, Engine, Facts, Images, Volumes
from slim.engine.docker import DockerEngine
from slim.engine.podman import PodmanEngine

ROLES = (Images, Containers, Volumes, Facts)


def verbs(protocol: type) -> set[str]:
    """The methods a protocol class itself declares (not those of its bases)."""
    return {name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


def test_every_verb_belongs_to_one_role():
    seen: dict[str, str] = {}
    for role in ROLES:
        for name in verbs(role):
            assert name not in seen, f"{name} is in both {seen[name]} and {role.__name__}"
            seen[name] = role.__name__
    assert verbs(Engine) == {"close"}, "a verb callers use goes into a role, not into Engine itself"
    assert {base for base in Engine.__mro__ if base in ROLES} == set(ROLES)
    assert set(vars(Facts)["__annotations__"]) == {"name", "remote", "publishes"}


def test_every_adapter_offers_each_verb_with_the_protocols_parameters():
    """Before the split the protocol's ensure_volume had no `shared` while the adapters took it and the tracer
    passed it: a caller typed with the protocol could not be checked against what it called."""
    for adapter in (DockerEngine, PodmanEngine, FakeEngine):
        for role in (*ROLES, Engine):
            for name in verbs(role):
                assert callable(getattr(adapter, name, None)), f"{adapter.__name__} lacks {role.__name__}.{name}"
                wanted = list(inspect.signature(getattr(role, name)).parameters)
                offered = list(inspect.signature(getattr(adapter, name)).parameters)
                assert offered == wanted, f"{adapter.__name__}.{name}{offered} is not {role.__name__}.{name}{wanted}"


def test_the_fake_states_the_facts_a_run_reads():
    engine = FakeEngine()
    assert isinstance(engine.name, str) and isinstance(engine.remote, bool) and isinstance(engine.publishes, bool)
