"""Depth, aliases and cost of an operation, measured before it runs, in time linear in the document.

Strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter` re-walk a fragment at every spread: fragments that
spread the next one twice (`fragment F1 on Query { ...F2 ...F2 }`, ...) make them exponential (22 such
fragments, a few hundred tokens, cost 15 s of CPU). This walk measures the same quantities, but measures each
fragment once and reuses the figure at every spread.

- **Depth**, as Strawberry counts it: the levels of selection sets below the top-level fields
  (`{ kpis { totalCount } }` has depth 1); fragments add no level; introspection fields (`__schema`,
  `__typename`) are not counted.
- **Aliases**, as Strawberry counts them: every aliased field of the operation, a fragment's counted at each
  spread.
- **Cost**, an estimate of how many values the query asks the server to produce (Strawberry has no such rule):
  every field counts 1 for each object it is resolved on (introspection fields are free); a connection (a
  field with a `first` argument) resolves the lists right under it (`edges`) once per requested item, `first`
  as given (a literal or a variable) or the argument's default page size when omitted, and what lies under
  them is multiplied in turn, so nested connections multiply; other lists (a solution's KPI impacts, a KPI's
  data points) are bounded by the data, not by the caller, and count once.
  `solutions(first: 50) { edges { node { title vendor { name } } } }` costs
  1 (solutions) + 50 x (edges + node + title + vendor + name) = 251.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast,
    value_from_ast_untyped,
)

PAGE_ARGUMENT = "first"


@dataclass(frozen=True)
class Measure:
    """What one selection set costs for one resolution of its parent."""

    depth: int
    aliases: int
    cost: int

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


NOTHING = Measure(0, 0, 0)


class OperationAnalysis:
    """Measures the operations of one document; `visits` counts the selections walked (it stays linear in
    the size of the document, whatever the fragments do)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = dict(variables or {})
        self.visits = 0
        self._measured: dict[tuple[str, int | None], Measure] = {}

    def measure(self, operation: OperationDefinitionNode) -> Measure:
        variables = dict(self.variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in variables and definition.default_value is not None:
                variables[name] = value_from_ast_untyped(definition.default_value)
        saved, self.variables = self.variables, variables
        try:
            root = self.schema.get_root_type(operation.operation)
            return self._selection_set(root, operation.selection_set, None, frozenset())
        finally:
            self.variables = saved

    def _selection_set(
        self, parent: GraphQLNamedType | None, selection_set: SelectionSetNode, page: int | None, seen: frozenset[str]
    ) -> Measure:
        """`page` is the page size when `parent` is a connection: its list fields are resolved `page` times."""
        total = NOTHING
        for selection in selection_set.selections:
            self.visits += 1
            if isinstance(selection, FieldNode):
                total += self._field(parent, selection, page, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self._selection_set(on, selection.selection_set, page, seen)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, page, seen)
        return total

    def _fragment(self, name: str, page: int | None, seen: frozenset[str]) -> Measure:
        fragment = self.fragments.get(name)
        if fragment is None or name in seen:  # unknown or cyclic: validation reports it
            return NOTHING
        key = (name, page)
        if key not in self._measured:
            on = self.schema.get_type(fragment.type_condition.name.value)
            self._measured[key] = self._selection_set(on, fragment.selection_set, page, seen | {name})
        return self._measured[key]

    def _field(
        self, parent: GraphQLNamedType | None, node: FieldNode, page: int | None, seen: frozenset[str]
    ) -> Measure:
        aliases = 1 if node.alias else 0
        fields = getattr(parent, "fields", None)
        definition = fields.get(node.name.value) if fields is not None else None
        below = NOTHING
        if node.selection_set is not None:
            child = get_named_type(definition.type) if definition is not None else None
            child_page = self._page_size(definition.args.get(PAGE_ARGUMENT), node) if definition is not None else None
            below = self._selection_set(child, node.selection_set, child_page, seen)
        if node.name.value.startswith("__"):
            # Introspection: free and no depth, but its aliases count (as in Strawberry's limiter).
            return Measure(0, aliases + below.aliases, 0)
        if definition is None:  # an unknown field (validation reports it): counted once
            return Measure(1 + below.depth if node.selection_set else 0, aliases + below.aliases, 1 + below.cost)
        times = page if page is not None and is_list_type(get_nullable_type(definition.type)) else 1
        depth = 1 + below.depth if node.selection_set is not None else 0
        return Measure(depth, aliases + below.aliases, times * (1 + below.cost))

    def _page_size(self, argument: GraphQLArgument | None, node: FieldNode) -> int | None:
        if argument is None:
            return None
        default = int(argument.default_value) if _is_int(argument.default_value) else 1
        given = next((a.value for a in node.arguments or () if a.name.value == PAGE_ARGUMENT), None)
        if given is None:
            return default
        value = value_from_ast(given, GraphQLInt, self.variables)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            return default  # a missing variable or a wrong type: refused later, priced at the default
        return max(int(value), 0)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
