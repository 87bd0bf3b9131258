"""Drop FundingRevision, the triggers that changed it and their functions: no process keeps
co-funding figures between reports any more, so nothing reads the revision.

Migrating back recreates the empty table only. Code that kept figures at a revision keeps none
while the table has no row, so it still shows the right figures.
"""

from django.db import migrations

DROP = """
DROP TRIGGER IF EXISTS grants_allocation_funding_changed ON grants_allocation;
DROP TRIGGER IF EXISTS donors_donor_funding_changed ON donors_donor;
DROP TRIGGER IF EXISTS donors_donation_funding_changed ON donors_donation;
DROP TABLE IF EXISTS grants_fundingchange;
DROP FUNCTION IF EXISTS grants_funding_revision_set();
DROP FUNCTION IF EXISTS grants_funding_changed();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0005_ledger_triggers"),
    ]

    operations = [
        migrations.RunSQL(DROP, reverse_sql=migrations.RunSQL.noop),
        migrations.DeleteModel(name="FundingRevision"),
    ]
