"""Hypothesis on the NATS message models: every valid message survives a JSON round trip unchanged, and
garbage is refused with a pydantic ValidationError only (never another exception)."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from rabota_common import models
from rabota_common.app_settings import SyncSettings

from tests.json_strategy import JSON

MODELS: list[type[BaseModel]] = sorted(
    (m for m in vars(models).values()
     if isinstance(m, type) and issubclass(m, models.Message) and m is not models.Message),
    key=lambda m: m.__name__)


def strategy(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of one field's type; `Any` (free-form payloads) is any JSON value."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return JSON
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy(a) for a in args))
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is dict:
        return st.dictionaries(st.text(max_size=10), strategy(args[1]), max_size=4)
    if annotation is type(None):
        return st.none()
    return st.from_type(annotation)


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid instances: every required field, each optional one sometimes (constraints filter the rest)."""
    required = {n: strategy(f.annotation) for n, f in model.model_fields.items() if f.is_required()}
    optional = {n: strategy(f.annotation) for n, f in model.model_fields.items() if not f.is_required()}

    def build(data: dict[str, Any]) -> BaseModel | None:
        try:
            return model.model_validate(data)
        except ValidationError:
            return None

    return st.fixed_dictionaries(required, optional=optional).map(build).filter(lambda m: m is not None)
EXAMPLES = 60
CASES: dict[str, int] = {}


def _count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


def test_there_are_message_models() -> None:
    assert len(MODELS) >= 12, MODELS


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_round_trip(model: type[BaseModel]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(model_strategy(model))
    def check(message: BaseModel) -> None:
        _count("round_trip")
        again = model.model_validate_json(message.model_dump_json())
        assert again == message
        assert model.model_validate(json.loads(message.model_dump_json())) == message

    check()


@pytest.mark.parametrize("model", [*MODELS, SyncSettings], ids=lambda m: m.__name__)
def test_garbage_is_refused_cleanly(model: type[BaseModel]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(JSON, st.dictionaries(st.sampled_from(sorted(model.model_fields)), JSON, max_size=6),
                     st.binary(max_size=40)))
    def check(garbage: Any) -> None:
        _count("garbage")
        try:
            if isinstance(garbage, bytes):
                model.model_validate_json(garbage)
            else:
                model.model_validate(garbage)
        except ValidationError:
            pass

    check()


def test_report_cases() -> None:
    print(f"hypothesis message-model cases: {CASES}")
