"""SCIM filters (RFC 7644 §3.4.2.2) as Django queries.

The filter text is parsed by scim2-models' grammar (``scim2_models.ScimFilter``, a lark parser of the RFC's ABNF,
errata included) into a syntax tree; ``QueryBuilder`` walks that tree (``scim2_models.path.FilterVisitor``) into a
``django.db.models.Q`` over the columns this app keeps. Attributes that are not filterable here answer
``invalidFilter`` (400) rather than silently matching nothing.

Operators: ``eq ne co sw ew gt ge lt le pr``, ``and or not``, value selections (``emails[type eq "work"]``).
Case: ``userName``, ``emails.value`` and ``displayName`` compare without regard to case (``caseExact`` false in RFC
7643 §4.1.1); ``externalId`` and ``id`` exactly. ``userName eq`` uses the ``Lower(user_name)`` unique index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from scim2_models import SCIMException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from scim.errors import ScimError

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group"
MAX_FILTER_LENGTH = 2000


@dataclass(frozen=True)
class Column:
    """A filterable attribute: the queryset ``field`` it reads, its ``kind`` ("ci" text compared without regard to
    case through a lower-cased alias, "exact" text, "bool", "uuid", "datetime")."""

    field: str
    kind: str


USER_COLUMNS = {
    "id": Column("scim_id", "uuid"),
    "username": Column("user_name_lower", "ci"),
    "externalid": Column("external_id", "exact"),
    "displayname": Column("display_name_lower", "ci"),
    "emails": Column("email", "ci"),
    "emails.value": Column("email", "ci"),
    "active": Column("active", "bool"),
    "meta.created": Column("created_at", "datetime"),
    "meta.lastmodified": Column("updated_at", "datetime"),
}
GROUP_COLUMNS = {
    "id": Column("scim_id", "uuid"),
    "displayname": Column("display_name_lower", "ci"),
    "externalid": Column("external_id", "exact"),
    "members": Column("members__scim_id", "uuid"),
    "members.value": Column("members__scim_id", "uuid"),
    "meta.created": Column("created_at", "datetime"),
    "meta.lastmodified": Column("updated_at", "datetime"),
}


def _key(attr_path: AttrPath, prefix: str = "") -> str:
    uri = (attr_path.uri or "").lower()
    if uri and uri not in {USER_URN, GROUP_URN}:
        return f"{uri}:{attr_path.attr.lower()}"
    name = attr_path.attr.lower() if not prefix else f"{prefix}.{attr_path.attr.lower()}"
    return f"{name}.{attr_path.sub_attr.lower()}" if attr_path.sub_attr else name


class QueryBuilder(FilterVisitor[Q]):
    """Turn a parsed filter into a ``Q`` over ``columns`` (``USER_COLUMNS`` or ``GROUP_COLUMNS``); raises
    ``ScimError(400, invalidFilter)`` for attributes or operators this endpoint does not filter on."""

    def __init__(self, columns: dict[str, Column], prefix: str = "") -> None:
        self.columns = columns
        self.prefix = prefix

    def _column(self, attr_path: AttrPath) -> Column:
        key = _key(attr_path, self.prefix)
        column = self.columns.get(key)
        if column is None:
            raise ScimError(400, f"Filtering on {attr_path} is not supported here.", "invalidFilter")
        return column

    def visit_comparison(self, node: Comparison) -> Q:
        column = self._column(node.attr_path)
        value = _coerce(column, node.value, node.op)
        op = node.op
        if value is _NO_MATCH:
            return Q(pk__in=[]) if op != CompareOperator.ne else ~Q(pk__in=[])
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            if column.kind not in {"ci", "exact"}:
                raise ScimError(400, f"'{op}' compares text only, and {node.attr_path} is not text.", "invalidFilter")
            lookup = {"co": "contains", "sw": "startswith", "ew": "endswith"}[op.value]
            return Q(**{f"{column.field}__{lookup}": value})
        if op in (CompareOperator.eq, CompareOperator.ne):
            query = Q(**{column.field: value}) if value is not None else Q(**{f"{column.field}__isnull": True})
            return query if op == CompareOperator.eq else ~query
        if column.kind in {"bool", "uuid"}:
            raise ScimError(400, f"'{op}' does not apply to {node.attr_path}.", "invalidFilter")
        lookup = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[op.value]
        return Q(**{f"{column.field}__{lookup}": value})

    def visit_present(self, node: Present) -> Q:
        column = self._column(node.attr_path)
        query = Q(**{f"{column.field}__isnull": False})
        if column.kind in {"ci", "exact"}:
            query &= ~Q(**{column.field: ""})
        return query

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        queries = [self.visit(term) for term in node.terms]
        combined = queries[0]
        for query in queries[1:]:
            combined = combined & query if node.op == LogicalOperator.and_ else combined | query
        return combined

    def visit_value_path(self, node: ValuePath) -> Q:
        # emails[value co "x"] reads as emails.value co "x"; a selection on another sub-attribute (type, primary)
        # has no column here.
        return QueryBuilder(self.columns, prefix=node.attr_path.attr.lower()).visit(node.val_filter)


_NO_MATCH = object()


def _coerce(column: Column, value: Any, op: CompareOperator) -> Any:
    if value is None:
        return None
    if column.kind == "bool":
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ScimError(400, "Compare a boolean attribute with true or false.", "invalidFilter")
        return value
    if column.kind == "uuid":
        try:
            return uuid.UUID(str(value))
        except ValueError:
            return _NO_MATCH
    if column.kind == "datetime":
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ScimError(400, f"{value!r} is not a dateTime (RFC 3339).", "invalidFilter") from None
    if not isinstance(value, str):
        raise ScimError(400, "Compare a text attribute with a quoted string.", "invalidFilter")
    return value.lower() if column.kind == "ci" else value


def build_query(text: str, columns: dict[str, Column]) -> Q:
    """The ``Q`` for the SCIM filter ``text``; raises ``ScimError`` (400 ``invalidFilter``) on a syntax error, an
    over-long filter, or an attribute or operator this endpoint does not filter on."""
    if len(text) > MAX_FILTER_LENGTH:
        raise ScimError(400, f"Filters are limited to {MAX_FILTER_LENGTH} characters.", "invalidFilter")
    try:
        parsed = ScimFilter(text)
    except SCIMException as exc:
        raise ScimError(400, f"The filter is not valid: {exc.detail}", "invalidFilter") from None
    except (ValueError, TypeError) as exc:
        raise ScimError(400, f"The filter is not valid: {exc}", "invalidFilter") from None
    return QueryBuilder(columns).visit(parsed.ast)
