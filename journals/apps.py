from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JournalsConfig(AppConfig):
    name = "journals"
    verbose_name = "Accounting journals"

    def ready(self):
        from backoffice import roles
        from grants.signals import demo_seeded

        from .demo import seed_account_map

        def seed(sender, **kwargs):
            return seed_account_map()

        demo_seeded.connect(seed, weak=False, dispatch_uid="journals.seed_demo")

        # This app's permissions exist only once its own post_migrate has run (after backoffice's):
        # the roles are synced again then, so that a fresh database's groups hold them.
        post_migrate.connect(roles.groups_sync_on_migrate, sender=self)
