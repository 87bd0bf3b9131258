from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Report delivery"

    def ready(self):
        from backoffice import roles

        # This app's permissions exist only after its own migrations; sync the roles again then.
        post_migrate.connect(roles.groups_sync_on_migrate, sender=self, dispatch_uid="delivery_roles_sync")
