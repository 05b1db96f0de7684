"""Model rows read by hand-written SQL on the sign-in hot paths, turned into model instances as the ORM would.

Some statements run on every sign-in (bench/saml_acs.py holds the SSO sign-in to a plain password login's cost), and
composing them through the ORM costs more than the database spends running them. Those are written as SQL built once
from the models' metadata; ``ModelColumns`` gives the column list of several models (each under its table alias) and
turns the fetched values back into instances with the fields' own database converters and ``Model.from_db``,
exactly as a queryset would. Only quoted table and column names from the models are ever formatted into SQL; every
value is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection as db
from django.db.models import Model


class ModelColumns:
    """The concrete columns of ``models`` (pairs of a model and its table alias in the statement), in order.

    ``sql`` is the select list (``p."id", p."key", …``), ``width`` its number of columns, and ``instances(row)``
    the model instances of one fetched row (a sequence whose first ``width`` values are these columns).
    """

    def __init__(self, *models: tuple[type[Model], str]) -> None:
        quote = db.ops.quote_name
        columns: list[str] = []
        self._layout: list[tuple[type[Model], list[str], list[tuple[Any, list[Any]]]]] = []
        for model, alias in models:
            fields = list(model._meta.concrete_fields)
            columns += [f"{alias}.{quote(field.column)}" for field in fields]
            converters = []
            for field in fields:
                expression = field.get_col(alias)
                converters.append((expression, db.ops.get_db_converters(expression) + expression.get_db_converters(db)))
            self._layout.append((model, [field.attname for field in fields], converters))
        self.sql = ", ".join(columns)
        self.width = len(columns)

    def instances(self, row: Sequence[Any]) -> list[Model]:
        """One instance per model, from the first ``width`` values of ``row``."""
        instances, offset = [], 0
        for model, names, converters in self._layout:
            values = list(row[offset : offset + len(names)])
            offset += len(names)
            for index, (expression, functions) in enumerate(converters):
                for convert in functions:
                    values[index] = convert(values[index], expression, db)
            instances.append(model.from_db(db.alias, names, values))
        return instances


def table(model: type[Model]) -> str:
    """The quoted table name of ``model``."""
    return db.ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    """The quoted column of ``model``'s field ``name``."""
    return db.ops.quote_name(model._meta.get_field(name).column)
