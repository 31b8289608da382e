"""Project-wide request middleware."""

from django.http import Http404


class RejectNulPathMiddleware:
    """A path with a NUL byte names nothing Relais has, and PostgreSQL refuses NUL in a text lookup
    (``DataError``: a server error) — so such a request answers 404 before any view looks it up.
    Found by the API fuzzing (tests/security/test_api_fuzz.py): ``GET /api/v1/branches/a%00b/`` was a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            raise Http404
        return self.get_response(request)
