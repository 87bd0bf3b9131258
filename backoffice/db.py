"""Database-level guards that hold even against raw SQL."""

from django.db import migrations


def immutable_trigger(table: str, when: str = "TRUE") -> migrations.RunPython:
    """A PostgreSQL trigger that refuses UPDATE and DELETE of rows where `when` holds (on OLD).

    On other databases the model and queryset guards are the protection; this is a no-op.
    """
    function = f"{table}_immutable"

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
            BEGIN
                IF {when.replace("ROW.", "OLD.")} THEN
                    RAISE EXCEPTION 'posted {table} row % is immutable: correct it with a reversal', OLD.id
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS {function} ON {table};
            CREATE TRIGGER {function} BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {function}();
            """,
            params=None,  # the body has a literal % placeholder for RAISE
        )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();")

    return migrations.RunPython(forwards, backwards)
