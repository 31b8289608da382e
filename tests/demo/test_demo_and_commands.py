"""The demo network that `make demo` loads, and the import management command."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from central.customers.selectors import customers_visible_to
from central.models import Customer
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import branches_visible_to

pytestmark = pytest.mark.django_db


def test_demo_network_has_its_tree_accounts_and_customers():
    out = io.StringIO()
    call_command("demo_load", customers=400, stdout=out)
    comptoir = Network.objects.get(slug="comptoir")
    assert Node.objects.filter(network=comptoir, kind=NodeKind.REGION).count() == 3
    assert Node.objects.filter(network=comptoir, kind=NodeKind.BRANCH).count() == 12
    assert Customer.objects.filter(network=comptoir).count() == 400
    assert Network.objects.filter(slug="azur").exists()

    from django.contrib.auth import get_user_model

    users = {user.username: user for user in get_user_model().objects.all()}
    claire, karim = users["claire.bernard"], users["karim.haddad"]
    assert {branch.code for branch in branches_visible_to(claire)} == {"PAR11"}
    assert {branch.parent.code for branch in branches_visible_to(karim)} == {"ARA"}
    assert set(customers_visible_to(claire).values_list("branch__code", flat=True)) == {"PAR11"}
    assert {
        c.network.slug for c in customers_visible_to(users["azur.marketing"]).select_related("network")
    } == {"azur"}
    assert users["admin"].is_superuser
    # A realistic consent mix
    customers = Customer.objects.filter(network=comptoir)
    email_rate = customers.filter(consent_email="granted").count() / customers.count()
    assert 0.64 < email_rate < 0.76
    # Loading again changes nothing
    call_command("demo_load", stdout=out)
    assert Customer.objects.filter(network=comptoir).count() == 400
    assert "already loaded" in out.getvalue()


def test_import_command_reports_bad_rows_and_exits_non_zero(world, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("external_id,branch_code,email\nC1,N1,c1@example.test\nC2,N1,broken\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_customers", "alpha", str(path), stdout=out, stderr=err)
    assert exit_info.value.code == 3
    assert "line 3: email: This is not a valid e-mail address." in err.getvalue()
    assert "2 rows read, 1 created, 0 updated, 1 rejected" in out.getvalue()
    assert Customer.objects.filter(external_id="C1").exists()


def test_import_command_records_purchases_with_purchases(world, tmp_path):
    from central.models import Purchase

    customers = tmp_path / "crm.csv"
    customers.write_text("external_id,branch_code,email\nC1,N1,c1@example.test\n", encoding="utf-8")
    call_command("import_customers", "alpha", str(customers), stdout=io.StringIO())
    sales = tmp_path / "sales.csv"
    sales.write_text("customer_external_id,purchased_on,amount\nC1,2026-11-02,19.90\nC404,2026-11-02,5\n",
                     encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit):
        call_command("import_customers", "alpha", str(sales), "--purchases", stdout=out, stderr=err)
    assert "2 rows read, 1 created, 0 updated, 1 rejected" in out.getvalue()
    assert "line 3: customer_external_id: No customer of this network has this CRM id" in err.getvalue()
    assert list(Purchase.objects.values_list("amount", flat=True)) == [Decimal("19.90")]


def test_send_due_refuses_a_day_that_is_not_a_date():
    with pytest.raises(CommandError, match="expected YYYY-MM-DD"):
        call_command("send_due", day="2026-13-01")


def test_send_due_with_nothing_scheduled_says_so():
    out = io.StringIO()
    call_command("send_due", stdout=out)
    assert out.getvalue().strip() == "0 campaign(s) started, 0 message(s) selected by 0 arbitration run(s)."
