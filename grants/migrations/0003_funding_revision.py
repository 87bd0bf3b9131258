"""FundingRevision, and the triggers that change it with whatever changes who funded which output.

On PostgreSQL one statement-level trigger per table and change; on SQLite (row-level triggers
only) one per table and change too. Each sets the one row's revision to a new random value,
inserting the row if it is missing.
"""

from django.db import migrations, models

TABLE = "grants_fundingrevision"
# (trigger name, table, PostgreSQL event, SQLite events): what changes co-funding figures.
WATCHED = [
    ("grants_allocation_funding_revision", "grants_allocation", "INSERT OR UPDATE OR DELETE OR TRUNCATE",
     ["INSERT", "UPDATE", "DELETE"]),
    ("donors_donor_funding_revision", "donors_donor", "UPDATE OF name, publicly_acknowledged",
     ["UPDATE OF name, publicly_acknowledged"]),
    ("donors_donation_funding_revision", "donors_donation", "UPDATE OF donor_id", ["UPDATE OF donor_id"]),
]  # fmt: skip
POSTGRES_BUMP = f"""
CREATE OR REPLACE FUNCTION grants_funding_revision_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO {TABLE} (id, revision) VALUES (1, floor(random() * 9.2e18)::bigint)
    ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
SQLITE_BUMP = f"INSERT INTO {TABLE} (id, revision) VALUES (1, random()) ON CONFLICT (id) DO UPDATE SET revision = excluded.revision;"  # noqa: E501


def _sqlite_name(name: str, event: str) -> str:
    return f"{name}_{event.split()[0].lower()}"


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BUMP)
        for name, table, event, _ in WATCHED:
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION grants_funding_revision_bump()"
            )
        schema_editor.execute(f"INSERT INTO {TABLE} (id, revision) VALUES (1, floor(random() * 9.2e18)::bigint)")
    elif vendor == "sqlite":
        for name, table, _, events in WATCHED:
            for event in events:
                schema_editor.execute(
                    f"CREATE TRIGGER {_sqlite_name(name, event)} AFTER {event} ON {table} BEGIN {SQLITE_BUMP} END"
                )
        schema_editor.execute(f"INSERT INTO {TABLE} (id, revision) VALUES (1, random())")


def triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, _, events in WATCHED:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        elif vendor == "sqlite":
            for event in events:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {_sqlite_name(name, event)}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS grants_funding_revision_bump()")


class Migration(migrations.Migration):
    dependencies = [
        ("donors", "0008_donation_leaner_indexes"),
        ("grants", "0002_immutable_triggers"),
    ]

    operations = [
        migrations.CreateModel(
            name="FundingRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("revision", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
