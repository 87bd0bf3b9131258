from django.db import migrations


class Migration(migrations.Migration):
    """Once a hand-written immutability trigger; it is now declared on the model (pgtrigger, migration 0005)."""

    dependencies = [("grants", "0001_initial")]

    operations = []
