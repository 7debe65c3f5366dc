"""A flush that only changes columns of loaded rows, written as one plain UPDATE per row.

Almost every conversation step changes a few columns of rows it read (a draft's answer and step, a
person's conversation state) and nothing else. The ORM's unit of work sorts every mapper's dependencies
and processes each relationship for that: about a tenth of a step's CPU (`make bench-submission`). When
the flush holds nothing else (no new or deleted rows, no changed relationships, no key changed), each
changed row is written here as `UPDATE … SET <its changed columns> WHERE <its key>` and marked written,
and the unit of work finds nothing left to do. Anything else goes to the unit of work as before.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ClauseElement, Table, Update, and_, bindparam, inspect
from sqlalchemy.orm import ColumnProperty, Session
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState


def write(session: Session) -> None:
    """Write the flush's changes here if they are only changed columns of loaded rows (see the module).

    Not inside a savepoint: rolling one back expires the rows the unit of work wrote in it, and only those."""
    if session.new or session.deleted or session.in_nested_transaction():
        return
    rows = []
    for row in session.dirty:
        state: InstanceState[Any] = inspect(row)
        changes = _changed_columns(state)
        if changes is None:
            return
        rows.append((state, changes))
    rows.sort(key=lambda row: (row[0].mapper.local_table.name, row[0].key[1]))  # the ORM's order: fewer deadlocks
    connection = session.connection()
    for state, changes in rows:
        if changes:
            _update(connection, state, changes)
    InstanceState._commit_all_states([(state, state.dict) for state, _ in rows], session.identity_map)


def _changed_columns(state: InstanceState[Any]) -> dict[str, Any] | None:
    """The row's changed columns (column key → new value); None if its changes are more than that, or its
    mapper asks for more than an UPDATE (a version counter, update events)."""
    mapper = state.mapper
    table = mapper.local_table
    if state.key is None or mapper.persist_selectable is not table or not isinstance(table, Table):
        return None
    if mapper.version_id_col is not None or mapper.dispatch.before_update or mapper.dispatch.after_update:
        return None
    changes: dict[str, Any] = {}
    for key, old in state.committed_state.items():
        prop = mapper.attrs.get(key)
        if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1 or key not in state.dict:
            return None
        column = prop.columns[0]
        new = state.dict[key]
        if (
            column.table is not table
            or column.primary_key
            or hasattr(new, "__clause_element__")
            or isinstance(new, ClauseElement)
        ):
            return None  # a key changed, or a value given as SQL: the unit of work's
        if old is NO_VALUE or not column.type.compare_values(old, new):
            changes[column.key] = new
    return changes


def _update(connection: Any, state: InstanceState[Any], changes: dict[str, Any]) -> None:
    table = state.mapper.local_table
    columns = tuple(sorted(changes))
    values = {f"v{i}": changes[key] for i, key in enumerate(columns)}
    values.update({f"k{i}": value for i, value in enumerate(state.key[1])})
    result = connection.execute(_statement(table, columns), values)
    if connection.dialect.supports_sane_rowcount and result.rowcount != 1:
        raise StaleDataError(f"UPDATE of {table.name} {state.key[1]} matched {result.rowcount} rows, not 1")


@functools.cache
def _statement(table: Table, columns: tuple[str, ...]) -> Update:
    """Built once per table and set of columns (the statement cache then knows it at once). The values are
    bound as v0, v1… (`columns`' order), the primary key as k0, k1…"""
    where = and_(*(column == bindparam(f"k{i}") for i, column in enumerate(table.primary_key.columns)))
    return table.update().where(where).values({table.c[key]: bindparam(f"v{i}") for i, key in enumerate(columns)})
