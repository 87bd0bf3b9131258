import datetime as dt
from decimal import Decimal

from django.core.management import call_command
from django.db.models import Count, Sum

from donors.models import Donor, Pledge
from spending.models import Agreement, BudgetVersion, Expense, ExpenseCharge
from spending.selectors import budget_vs_actual, revision_flagged


def test_seed_demo_gives_most_government_pledges_an_agreement_with_spend_and_reruns_create_nothing(demo_data, db):
    """On the demo every test process seeds (`seed_demo --demo-users`), then seeded again."""
    government = Pledge.objects.filter(donor__kind=Donor.Kind.GOVERNMENT, cancelled_on__isnull=True).count()
    agreements = Agreement.objects.count()
    assert government / 2 < agreements < government
    assert not Agreement.objects.exclude(pledge__donor__kind=Donor.Kind.GOVERNMENT).exists()
    assert 1800 <= Expense.objects.posted().count() <= 2200
    # Every agreement has its original budget, and those a year old a revision whose moves are flagged.
    assert BudgetVersion.objects.filter(number=1, status="approved").count() == agreements
    revisions = BudgetVersion.objects.filter(number=2, status="approved")
    assert revisions.exists() and all(revision_flagged(v) for v in revisions)
    # Some expenses are split between two funders; no expense is charged more than its amount.
    split = Expense.objects.annotate(n=Count("charges__agreement", distinct=True)).filter(n=2)
    assert split.exists()
    over = Expense.objects.annotate(charged=Sum("charges__amount")).filter(charged__gt=Decimal("0"))
    assert all(e.charged <= e.amount for e in over)
    assert not ExpenseCharge.objects.filter(line__category="indirect").exists()
    # Some lines run over budget.
    overspent = 0
    for agreement in Agreement.objects.all():
        figures = budget_vs_actual(agreement, start=agreement.start_date, end=dt.date(2026, 10, 30))
        overspent += sum(1 for line in figures.lines if line.variance < 0 and not line.is_indirect)
    assert overspent > 0
    counts = (Agreement.objects.count(), BudgetVersion.objects.count(), Expense.objects.count())
    call_command("seed_demo", "--demo-users", verbosity=0)
    assert (Agreement.objects.count(), BudgetVersion.objects.count(), Expense.objects.count()) == counts
