"""Database guards of the ledger tables, declared on the models (django-pgtrigger) so they hold against raw SQL too."""

import pgtrigger


def ledger_triggers(*, posted: pgtrigger.Condition | None = None) -> list[pgtrigger.Trigger]:
    """Refuse UPDATE and DELETE of posted rows (all rows, or those where `posted` holds), and any TRUNCATE.

    TRUNCATE skips row triggers, and `TRUNCATE other_table CASCADE` empties every table that refers to
    it; a statement trigger on each ledger table refuses both. The models refuse the same changes
    first, with a message for the user; these are the guard of last resort.
    """
    return [
        pgtrigger.Trigger(
            name="posted_immutable",
            when=pgtrigger.Before,
            operation=pgtrigger.Update | pgtrigger.Delete,
            condition=posted,
            func=pgtrigger.Func(
                "RAISE EXCEPTION 'posted {meta.db_table} row % is immutable: correct it with a reversal', OLD.id"
                " USING ERRCODE = 'integrity_constraint_violation';"
            ),
        ),
        pgtrigger.Trigger(
            name="truncate_refused",
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            operation=pgtrigger.Truncate,
            func=pgtrigger.Func(
                "RAISE EXCEPTION '{meta.db_table} is a ledger table: it cannot be truncated'"
                " USING ERRCODE = 'integrity_constraint_violation';"
            ),
        ),
    ]
