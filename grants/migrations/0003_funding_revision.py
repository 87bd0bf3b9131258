"""FundingRevision, and the triggers that change it with whatever changes who funded which output:
allocations written, a donor's name or acknowledgement changed, a donation moved to another donor.

PostgreSQL: the triggers only note the change, once per transaction (a transaction-local setting,
`fundtrace.funding_changed`, and one row of its own in grants_fundingchange); a deferred constraint trigger
on that row sets the revision when the transaction commits, and removes the row. So the one
revision row is locked only while a transaction commits, after every other lock it takes: a
transaction that writes many allocations neither holds it (which made allocation writers wait
for each other, and could deadlock with the donation row locks) nor updates it once per
statement. Until it commits, the transaction's own reads see the setting on
(reports.co_funding then keeps nothing).
"""

from django.db import migrations, models

REVISION = "grants_fundingrevision"
CHANGE = "grants_fundingchange"
POSTGRES = f"""
-- One row per transaction that changed funding, until it commits: no two transactions share a
-- row, so none waits for another here.
CREATE TABLE {CHANGE} (txid bigint NOT NULL);

CREATE FUNCTION grants_funding_changed() RETURNS trigger AS $$
BEGIN
    IF current_setting('fundtrace.funding_changed', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('fundtrace.funding_changed', 'on', true);
        INSERT INTO {CHANGE} (txid) VALUES (txid_current());
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION grants_funding_revision_set() RETURNS trigger AS $$
BEGIN
    DELETE FROM {CHANGE} WHERE txid = NEW.txid;
    -- Fired early (SET CONSTRAINTS ALL IMMEDIATE), later changes in this transaction must note
    -- themselves again.
    PERFORM set_config('fundtrace.funding_changed', '', true);
    INSERT INTO {REVISION} (id, revision) VALUES (1, floor(random() * 9.2e18)::bigint)
    ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER grants_funding_revision_at_commit AFTER INSERT ON {CHANGE}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION grants_funding_revision_set();

CREATE TRIGGER grants_allocation_funding_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON grants_allocation FOR EACH STATEMENT EXECUTE FUNCTION grants_funding_changed();
CREATE TRIGGER donors_donor_funding_changed AFTER UPDATE ON donors_donor FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.publicly_acknowledged IS DISTINCT FROM NEW.publicly_acknowledged)
    EXECUTE FUNCTION grants_funding_changed();
CREATE TRIGGER donors_donation_funding_changed AFTER UPDATE ON donors_donation FOR EACH ROW
    WHEN (OLD.donor_id IS DISTINCT FROM NEW.donor_id)
    EXECUTE FUNCTION grants_funding_changed();

INSERT INTO {REVISION} (id, revision) VALUES (1, floor(random() * 9.2e18)::bigint);
"""
POSTGRES_DROP = f"""
DROP TRIGGER IF EXISTS grants_allocation_funding_changed ON grants_allocation;
DROP TRIGGER IF EXISTS donors_donor_funding_changed ON donors_donor;
DROP TRIGGER IF EXISTS donors_donation_funding_changed ON donors_donation;
DROP TABLE IF EXISTS {CHANGE};
DROP FUNCTION IF EXISTS grants_funding_revision_set();
DROP FUNCTION IF EXISTS grants_funding_changed();
"""
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
        migrations.RunSQL(POSTGRES, POSTGRES_DROP),
    ]
