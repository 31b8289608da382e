"""The API's one error handler and one scoped base for its views (docs/architecture.md, "API: one
error handler, one scoped base").

Every app's API builds on this module, so it imports no other app: only Django, DRF and the network
core. A view calls services and lets their errors rise; ``exception_handler`` (REST_FRAMEWORK's
``EXCEPTION_HANDLER``) answers them:

- Django's ``ValidationError``: 400 by field, ``{"field": ["message", ...]}``; a service's error not
  tied to a field (or tied to ``__all__``) under ``non_field_errors``, or under the view's
  ``service_error_field`` when it names one; the view's ``service_error_fields`` renames fields;
- ``StateConflict`` (the race was lost under the lock): 409 with its reason;
- Django's ``PermissionDenied``: 403 with the service's message, or 404 on a view whose
  ``service_refusal_answers_404`` is set (who may not act there learns nothing more);
- anything else as DRF answers it (``Http404`` → 404, DRF's own exceptions).

Reads go through ``ScopedViewMixin.get_queryset``, which cannot be overridden: a view names its
scoping selector and may only narrow what it answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, generics, status
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from local_stores.services import StateConflict


class Conflict(exceptions.APIException):
    """409: the object is no longer in the state the action needs (another request came first)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("Someone else acted on this first: reload it and try again.")
    default_code = "conflict"


def service_error_detail(error: DjangoValidationError, view: Any = None) -> dict[str, list[str]]:
    """A service's ``ValidationError`` as the API answers it: messages by field."""
    non_field = getattr(view, "service_error_field", None) or api_settings.NON_FIELD_ERRORS_KEY
    if not hasattr(error, "error_dict"):
        return {non_field: error.messages}
    renames = getattr(view, "service_error_fields", None) or {}
    detail: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        key = non_field if field == NON_FIELD_ERRORS else renames.get(field, field)
        detail.setdefault(key, []).extend(messages)
    return detail


def exception_handler(exc: Exception, context: dict) -> Any:
    """REST_FRAMEWORK's ``EXCEPTION_HANDLER``: the services' errors as the API answers them."""
    view = context.get("view")
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(service_error_detail(exc, view))
    elif isinstance(exc, StateConflict):
        exc = Conflict(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        if getattr(view, "service_refusal_answers_404", False):
            exc = exceptions.NotFound()
        else:
            exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


# --- The scoped base -------------------------------------------------------------------------------


def _call_selector(selector: Callable[..., QuerySet], user: Any, arguments: dict) -> QuerySet:
    """Selectors take the caller either as ``fetched_by=`` or as their first argument."""
    if "fetched_by" in inspect.signature(selector).parameters:
        return selector(fetched_by=user, **arguments)
    return selector(user, **arguments)


class ScopedViewMixin:
    """The rows an API view reads come from its scoping selector, never from a queryset of its own.

    A subclass sets ``scoping_selector`` (a selector of local_stores.selectors or one built on it:
    ``proofs_visible_to``, ``customer_list``…, called with the caller and ``scoping_arguments()``)
    and may narrow its answer in ``narrow(rows)`` (filters, ordering). ``get_queryset`` is final:
    overriding it, or setting ``queryset``, is refused when the class is created. The escape hatch
    is named: ``unscoped_queryset_because = "<why>"`` with ``unscoped_queryset()`` for rows whose
    scope was checked otherwise (e.g. the history of an object fetched through its scoping selector).
    """

    scoping_selector: ClassVar[Callable[..., QuerySet] | None] = None
    unscoped_queryset_because: ClassVar[str] = ""
    #: the model of the rows, when the serializer does not name it (schema generation only)
    scoped_model: ClassVar[type | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.get_queryset is not ScopedViewMixin.get_queryset:
            raise TypeError(f"{cls.__qualname__} overrides get_queryset: set scoping_selector and narrow() instead.")
        if getattr(cls, "queryset", None) is not None:
            raise TypeError(f"{cls.__qualname__} sets queryset: set scoping_selector instead.")
        if "scoping_selector" in cls.__dict__ and not isinstance(cls.__dict__["scoping_selector"], staticmethod):
            cls.scoping_selector = staticmethod(cls.__dict__["scoping_selector"])
        unscoped = "unscoped_queryset" in cls.__dict__ or "unscoped_queryset_because" in cls.__dict__
        if unscoped and not (cls.unscoped_queryset_because and cls.unscoped_queryset_because.strip()):
            raise TypeError(f"{cls.__qualname__} reads unscoped rows: say why in unscoped_queryset_because.")
        if unscoped and cls.scoping_selector is not None:
            raise TypeError(f"{cls.__qualname__} has a scoping selector and unscoped rows: choose one.")

    def scoping_arguments(self) -> dict[str, Any]:
        """The selector's arguments besides the caller (e.g. the campaign fetched through its own)."""
        return {}

    def narrow(self, rows: QuerySet) -> QuerySet:
        """Filter and order the scoped rows; never widen them."""
        return rows

    def unscoped_queryset(self) -> QuerySet:
        raise ImproperlyConfigured(f"{type(self).__qualname__} reads no rows.")

    def _schema_model(self) -> type | None:
        if self.scoped_model is not None:
            return self.scoped_model
        serializer_class = getattr(self, "serializer_class", None)
        return getattr(getattr(serializer_class, "Meta", None), "model", None)

    def get_queryset(self) -> QuerySet:
        """Final: the scoping selector's rows, narrowed."""
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            model = self._schema_model()
            return model.objects.none() if model is not None else None
        if self.scoping_selector is not None:
            rows = _call_selector(self.scoping_selector, self.request.user, self.scoping_arguments())
        elif self.unscoped_queryset_because:
            rows = self.unscoped_queryset()
        else:
            raise ImproperlyConfigured(f"{type(self).__qualname__} has no scoping selector.")
        return self.narrow(rows)


class ScopedAPIView(ScopedViewMixin, APIView):
    """An API view acting on objects fetched through scoping selectors (``*_get``: 404 for a
    foreign object as for a missing one)."""


class ScopedListAPIView(ScopedViewMixin, generics.ListAPIView):
    """A paginated list of the scoping selector's rows."""


class ScopedRetrieveAPIView(ScopedViewMixin, generics.RetrieveAPIView):
    """One object: ``get_object`` answers it through the scoping selector (its own ``*_get``
    selector, or the selector's rows looked up by ``lookup_field``): 404 for foreign and missing."""
