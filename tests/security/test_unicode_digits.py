"""Digits that are not ASCII ("²" passes str.isdigit() but not int(); fullwidth "０６…" passes both)
are refused as ids, scores, counts and phone numbers — a clear refusal, never a server error."""

import pytest

from central.channels.sms import normalise_mobile
from central.customers.checks import Invalid, score
from central.rules.forms import NetworkRulesForm

pytestmark = pytest.mark.django_db

ODD = ["²", "٣", "１２"]


@pytest.mark.parametrize("value", ODD)
def test_one_of_ones_own_sessions_by_an_odd_number_is_not_found(world, value):
    answer = world.client_for("head_office").post("/accounts/sessions/end/", {"session": value})
    assert answer.status_code == 404


@pytest.mark.parametrize("value", ODD)
def test_an_sso_mapping_by_an_odd_number_is_not_found(world, value):
    answer = world.client_for("head_office").delete(f"/api/v1/network/sso/mappings/{value}/")
    assert answer.status_code == 404


@pytest.mark.parametrize("value", ODD)
def test_an_rfm_score_in_odd_digits_is_refused(value):
    with pytest.raises(Invalid):
        score(value)


def test_a_segment_cap_in_odd_digits_is_a_form_error(world):
    form = NetworkRulesForm.__new__(NetworkRulesForm)
    form.cleaned_data = {"segment_caps": "vip = ²"}
    with pytest.raises(Exception) as refused:
        form.clean_segment_caps()
    assert "segment = number of messages" in str(refused.value)


def test_a_mobile_in_fullwidth_digits_is_not_a_number():
    assert normalise_mobile("０６１２３４５６７８") is None
    assert normalise_mobile("06 12 34 56 78") == "+33612345678"


@pytest.mark.parametrize("url", ["/api/v1/network/sso/mappings/?network=%00", "/api/v1/network/sso/?network=a%00b",
                                 "/api/v1/network/identity/?network=%00", "/api/v1/network/?network=%00"])
def test_a_network_named_with_a_nul_is_not_found(world, url):
    """PostgreSQL refuses a NUL in a query: the API answers 404 before asking (found by the API fuzz)."""
    assert world.client_for("head_office").get(url).status_code == 404
