"""Each request in the time zone and currency of the network of the person making it
(local_stores/locale.py; docs/network-administration.md, "Time zone and currency")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.http import FileResponse

from local_stores.locale import network_locale, network_of_person


class NetworkLocaleMiddleware:
    """For a signed-in person of a network (their ``Membership``), dates and times are shown in the
    network's time zone — "today" (``timezone.localdate()``) included — and amounts in its currency;
    the anonymous, the platform's superusers and people of no network keep the installation's
    defaults. Both are set back at the end of the request, also when the view raised. A streamed
    answer (a CSV export) is written after the view returned: each of its pieces is written in the
    same zone and currency (a stored file, ``FileResponse``, has neither and keeps its fast path). Placed after the authentication middlewares (it reads ``request.user``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        network = network_of_person(getattr(request, "user", None))
        with network_locale(network):
            response = self.get_response(request)
        if network is not None and getattr(response, "streaming", False) and not isinstance(response, FileResponse):
            if response.is_async:
                response.streaming_content = _async_pieces(response.streaming_content, network)
            else:
                response.streaming_content = _pieces(response.streaming_content, network)
        return response


def _pieces(content: Iterator, network) -> Iterator:
    """``content``'s pieces, each produced within the network's zone and currency (the server reads
    them after the middleware returned, on a thread that may serve someone else in between)."""
    iterator = iter(content)
    while True:
        with network_locale(network):
            try:
                piece = next(iterator)
            except StopIteration:
                return
        yield piece


async def _async_pieces(content: AsyncIterator, network) -> AsyncIterator:
    iterator = aiter(content)
    while True:
        with network_locale(network):
            try:
                piece = await anext(iterator)
            except StopAsyncIteration:
                return
        yield piece
