from django.db import migrations


class Migration(migrations.Migration):
    """Once hand-written immutability triggers; they are now declared on the models (pgtrigger, migration 0010)."""

    dependencies = [("donors", "0002_pledge_restrictions")]

    operations = []
