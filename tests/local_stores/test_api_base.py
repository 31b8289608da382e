"""The API's one error handler and one scoped base (local_stores.api_base, docs/architecture.md
"API: one error handler, one scoped base")."""

from __future__ import annotations

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import serializers
from rest_framework.test import APIRequestFactory, force_authenticate

from approvals.models import ApprovalPolicy
from approvals.policies import policy_save
from approvals.services import StateConflict
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.selectors import branches_visible_to

# --- The scoped base refuses, at class creation, a view that could read rows around its selector ---


def test_a_view_overriding_get_queryset_is_refused_when_its_class_is_created():
    with pytest.raises(TypeError, match="overrides get_queryset"):
        class EveryPolicyApi(ScopedListAPIView):
            def get_queryset(self):
                return ApprovalPolicy.objects.all()


def test_a_subclass_of_a_converted_view_may_not_override_it_either():
    class BranchesApi(ScopedListAPIView):
        scoping_selector = branches_visible_to

    with pytest.raises(TypeError, match="overrides get_queryset"):
        class EveryBranchApi(BranchesApi):
            def get_queryset(self):
                return super().get_queryset().model.objects.all()


def test_a_view_setting_a_queryset_is_refused_when_its_class_is_created():
    with pytest.raises(TypeError, match="sets queryset"):
        class EveryPolicyApi(ScopedRetrieveAPIView):
            queryset = ApprovalPolicy.objects.all()


def test_the_escape_hatch_needs_its_reason_and_excludes_a_selector():
    with pytest.raises(TypeError, match="unscoped_queryset_because"):
        class NoReasonApi(ScopedListAPIView):
            def unscoped_queryset(self):
                return ApprovalPolicy.objects.none()

    with pytest.raises(TypeError, match="choose one"):
        class BothApi(ScopedListAPIView):
            scoping_selector = branches_visible_to
            unscoped_queryset_because = "a reason"


# --- The handler: a service's errors as the API answers them --------------------------------------


class _ServiceApi(ScopedAPIView):
    """Calls a 'service' that raises what the test gives it, and lets it rise."""

    error: Exception = ValidationError("unused")

    def post(self, request):
        raise self.error


def _answer(error: Exception, **attributes):
    view = type("ServiceApi", (_ServiceApi,), {"error": error, **attributes}).as_view()
    request = APIRequestFactory().post("/api/v1/anything/", {}, format="json")
    force_authenticate(request, user=type("User", (), {"is_authenticated": True, "is_active": True})())
    response = view(request)
    return response.status_code, response.data


def test_a_services_field_errors_answer_400_by_field():
    status, data = _answer(ValidationError({"name": ["Give a name."], "send_date": ["Too late.", "A Sunday."]}))
    assert status == 400
    assert data == {"name": ["Give a name."], "send_date": ["Too late.", "A Sunday."]}


def test_a_services_error_tied_to_no_field_answers_under_non_field_errors():
    assert _answer(ValidationError("This customer was already erased.")) == (
        400, {"non_field_errors": ["This customer was already erased."]})
    assert _answer(ValidationError({NON_FIELD_ERRORS: ["Nothing to send."], "slot": ["Too long."]})) == (
        400, {"non_field_errors": ["Nothing to send."], "slot": ["Too long."]})


def test_a_view_names_the_field_a_services_general_error_belongs_to_and_renames_fields():
    assert _answer(ValidationError("Already handed over."), service_error_field="status") == (
        400, {"status": ["Already handed over."]})
    assert _answer(ValidationError({"starts_on": ["Too far."]}), service_error_fields={"starts_on": "from"}) == (
        400, {"from": ["Too far."]})


def test_a_refusal_answers_403_with_its_reason_a_lost_race_409_and_404_where_the_view_says_so():
    assert _answer(DjangoPermissionDenied("Head office only.")) == (403, {"detail": "Head office only."})
    assert _answer(StateConflict("Someone decided first.")) == (409, {"detail": "Someone decided first."})
    status, data = _answer(DjangoPermissionDenied("Head office only."), service_refusal_answers_404=True)
    assert status == 404 and "Head office" not in str(data)


def test_drf_errors_are_answered_as_before():
    assert _answer(serializers.ValidationError({"network": ["Unknown."]})) == (400, {"network": ["Unknown."]})


# --- Through the base, a foreign object answers 404 like a missing one --------------------------------


@pytest.mark.django_db
def test_a_foreign_policy_answers_404_like_a_missing_one_through_the_bases_lookup(world):
    beta = policy_save(network=world.networks["beta"], saved_by=world.users["other_network_head_office"],
                       name="Beta", steps=[{"level": "head_office", "role": "approver", "quorum": 1}])
    url = f"/api/v1/approval-policies/{beta.public_id}/"
    assert world.client_for("other_network_head_office").get(url).status_code == 200
    head_office = world.client_for("head_office")
    assert head_office.get(url).status_code == 404
    assert head_office.patch(url, {"name": "Mine"}, content_type="application/json").status_code == 404
    assert head_office.get("/api/v1/approval-policies/pol_doesnotexist0000/").status_code == 404
    beta.refresh_from_db()
    assert beta.name == "Beta"


def test_the_api_answers_with_this_handler():
    from django.conf import settings

    assert settings.REST_FRAMEWORK["EXCEPTION_HANDLER"] == "local_stores.api_base.exception_handler"
