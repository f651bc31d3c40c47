"""The web chat's access log (``WEB_ACCESS_LOG=true``): method, path, status, size and time of each
request. Never the query string, the client's address or a header: they can carry personal data."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d %d bytes %.1f ms",
            request.method,
            request.rel_url.path,
            response.status,
            response.body_length,
            time * 1000,
        )
