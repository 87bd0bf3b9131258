from django.apps import AppConfig


class SpendingConfig(AppConfig):
    name = "spending"
    verbose_name = "Agreements and money out"

    def ready(self):
        from grants.signals import demo_seeded

        from .demo import seed_spending

        def seed(sender, *, rng, by, **kwargs):
            return seed_spending(rng=rng, by=by)

        demo_seeded.connect(seed, weak=False, dispatch_uid="spending.seed_demo")
