"""Database guards of the ledger tables, declared on the models (django-pgtrigger) so they hold against raw SQL too."""

import pgtrigger

TRUNCATE_GUARD = "truncate_refused"


def ledger_triggers(*, posted: pgtrigger.Condition | None = None, allowed_update: str = "") -> list[pgtrigger.Trigger]:
    """Refuse UPDATE and DELETE of posted rows (all rows, or those where `posted` holds), and any TRUNCATE.

    `allowed_update`, a SQL condition over OLD and NEW, lets through the one sanctioned change
    (a donor merge's relink of a posted donation, donors.models.MERGE_RELINK_SQL; an erasure's
    replacement of their words, ERASURE_TEXT_SQL).

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
                (f"IF {allowed_update} THEN RETURN NEW; END IF; " if allowed_update else "")
                + "RAISE EXCEPTION 'posted {meta.db_table} row % is immutable: correct it with a reversal', OLD.id"
                " USING ERRCODE = 'integrity_constraint_violation';"
            ),
        ),
        pgtrigger.Trigger(
            name=TRUNCATE_GUARD,
            level=pgtrigger.Statement,
            when=pgtrigger.Before,
            operation=pgtrigger.Truncate,
            func=pgtrigger.Func(
                "RAISE EXCEPTION '{meta.db_table} is a ledger table: it cannot be truncated'"
                " USING ERRCODE = 'integrity_constraint_violation';"
            ),
        ),
    ]


def truncate_guards() -> list[str]:
    """The truncate guards, as pgtrigger.ignore() takes them: only what empties the ledger on purpose
    names them (the test suite's flush, a benchmark's own database)."""
    return [
        f"{model._meta.label}:{trigger.name}"
        for model, trigger in pgtrigger.registered()
        if trigger.name == TRUNCATE_GUARD
    ]
