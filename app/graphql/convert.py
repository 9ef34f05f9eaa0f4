"""Output schema (pydantic) -> GraphQL object, for the types made with `strawberry.experimental.pydantic.type`.

Strawberry's own `from_pydantic` resolves every field's type annotation again on each call, for every
object (and nested object) converted: on a 50-solution page with vendors and KPIs that was half of the
request. `compile_conversions` replaces it, on every such type of the schema, with a conversion planned once
per type: the same fields in the same order, the same values (lists copied, nested models converted by the
Strawberry type their class names, as Strawberry does for interfaces), private fields from `extra` or the
model, and `_original_model` set. Anything the plan does not cover (a union field, `extra` for a non-private
field, no model) goes to Strawberry's own conversion. docs/architecture.md, "GraphQL".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.experimental.pydantic.conversion import convert_pydantic_model_to_strawberry_class
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.private import is_private
from strawberry.types.union import StrawberryUnion

Convert = Callable[[Any], Any]
_COMPILED = "_citymarket_compiled_from_pydantic"


class _Unplanned(Exception):
    """A field type the plan leaves to Strawberry."""


def _converter(type_: Any) -> Convert | None:
    """How one field's value becomes the GraphQL value; None: as it is."""
    if isinstance(type_, StrawberryOptional):
        inner = _converter(type_.of_type)
        if inner is None:
            return None
        return lambda value: None if value is None else inner(value)
    if isinstance(type_, StrawberryUnion):
        raise _Unplanned
    if isinstance(type_, StrawberryEnumDefinition):
        return None
    if isinstance(type_, StrawberryList):
        item = _converter(type_.of_type)
        if item is None:
            return list
        return lambda values: [item(value) for value in values]
    if has_object_definition(type_):
        declared = type_

        def nested(value: Any) -> Any:
            # As Strawberry: the concrete type may be the one the value's model class names.
            target = getattr(type(value), "_strawberry_type", declared)
            if hasattr(target, "from_pydantic"):
                return target.from_pydantic(value, None)
            return convert_pydantic_model_to_strawberry_class(target, model_instance=value, extra=None)

        return nested
    return None


def _compile(cls: type) -> None:
    original = cls.from_pydantic  # type: ignore[attr-defined]
    try:
        plan = [(f.python_name, _converter(f.type)) for f in cls.__strawberry_definition__.fields if f.init]  # type: ignore[attr-defined]
    except _Unplanned:
        return
    private = tuple(f.name for f in dataclasses.fields(cls) if is_private(f.type))

    def from_pydantic(instance: Any, extra: dict[str, Any] | None = None) -> Any:
        if not instance or (extra and any(key not in private for key in extra)):
            return original(instance, extra)
        kwargs = {}
        for name, convert in plan:
            value = getattr(instance, name, None)
            kwargs[name] = value if convert is None else convert(value)
        for name in private:
            if extra and name in extra:
                kwargs[name] = extra[name]
            elif hasattr(instance, name):
                kwargs[name] = getattr(instance, name)
        result = cls(**kwargs)
        result._original_model = instance
        return result

    setattr(from_pydantic, _COMPILED, True)
    cls.from_pydantic = staticmethod(from_pydantic)  # type: ignore[attr-defined]


def compile_conversions(schema: strawberry.Schema) -> None:
    """Plan the conversion of every output type of `schema` made from a pydantic model (once per process:
    the types are shared by every schema built from them)."""
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        definition = (graphql_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        cls = getattr(definition, "origin", None)
        if cls is None or not hasattr(cls, "_pydantic_type") or not hasattr(cls, "from_pydantic"):
            continue
        current = cls.from_pydantic
        if getattr(current, _COMPILED, False) or current.__name__ != "from_pydantic_default":
            continue  # done already, or a conversion of the type's own
        _compile(cls)
