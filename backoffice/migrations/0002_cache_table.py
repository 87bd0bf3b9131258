from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor):
    # The tables of the database caches in settings.CACHES (the rate limit's counts); a table
    # that already exists is left as it is.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0001_roles")]

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
