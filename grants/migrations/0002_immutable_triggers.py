from django.db import migrations

from backoffice.db import immutable_trigger


class Migration(migrations.Migration):
    dependencies = [("grants", "0001_initial")]

    operations = [immutable_trigger("grants_allocation")]
