from django.db import migrations

from backoffice.db import immutable_trigger


class Migration(migrations.Migration):
    dependencies = [("donors", "0002_pledge_restrictions")]

    operations = [
        immutable_trigger("donors_donation", when="ROW.status = 'posted'"),
        immutable_trigger("donors_writeoff"),
    ]
