from rest_framework.pagination import PageNumberPagination


class DefaultPagination(PageNumberPagination):
    """``?page=N`` and ``?page_size=N`` (at most 500): integrators page through large lists."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
