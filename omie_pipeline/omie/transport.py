"""One HTTP round trip to Omie on a pooled `requests.Session`, read into a dict or an exception.

The body decides, whatever the HTTP status: a `faultstring` is a fault even inside HTTP 200, an
answer carrying `cCodStatus` / `codigo_status` other than "0" is a refusal, and a page that is not
JSON (Omie's occasional HTML error page) is transient.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from omie_pipeline.omie import errors, wire
from omie_pipeline.omie.faults import fault_error

log = logging.getLogger("omie_pipeline.omie")

STATUS_FIELDS = {"cCodStatus": ("cDescStatus", "cDesStatus"), "codigo_status": ("descricao_status",)}
"""Status code field of a write answer -> the fields that may hold its description."""


class Transport:
    """Sends calls of one app key to one base URL."""

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        timeout: tuple[float, float],
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.app_key = app_key
        self._app_secret = app_secret
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})

    def url_for(self, path: str) -> str:
        path = path.strip("/") + "/"
        return urljoin(self.base_url, path)

    def redact(self, text: str) -> str:
        return wire.redact(text, self._app_secret)

    def send(self, path: str, method: str, param: Mapping[str, Any]) -> dict[str, Any]:
        """POST one call and return Omie's answer, or raise the OmieError it amounts to."""
        url = self.url_for(path)
        body = wire.request_body(method, self.app_key, self._app_secret, param)
        log.debug("omie request %s %s param=%s", path, method, wire.loggable(param, self._app_secret))
        started = time.monotonic()
        try:
            response = self.session.post(url, data=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._network_error(exc, method) from None
        elapsed = time.monotonic() - started
        log.debug("omie answer %s %s HTTP %s in %.3f s", path, method, response.status_code, elapsed)
        return self._read(response, method)

    def close(self) -> None:
        self.session.close()

    def _network_error(self, exc: requests.RequestException, method: str) -> errors.TransientError:
        reached = not _never_left(exc)
        what = type(exc).__name__
        message = self.redact(f"no answer from Omie ({what}: {exc})")
        log.debug("omie network failure %s: %s (request reached Omie: %s)", method, what, reached)
        return errors.TransientError(message, method=method, reached_omie=reached)

    def _read(self, response: requests.Response, method: str) -> dict[str, Any]:
        status = response.status_code
        text = response.text
        try:
            answer = wire.parse_json(text) if text.strip() else None
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "faultstring" in answer:
            raise fault_error(
                self.redact(str(answer.get("faultstring") or "")),
                str(answer.get("faultcode") or ""),
                http_status=status,
                method=method,
            )
        if status >= 400 or not isinstance(answer, dict):
            raise self._status_error(response, method, answer)
        _raise_if_refused(answer, method, status, self.redact)
        return answer

    def _status_error(self, response: requests.Response, method: str, answer: Any) -> errors.OmieError:
        """An answer without a fault body: judged by its HTTP status."""
        status = response.status_code
        shape = (
            "JSON" if answer is not None else ("an HTML page" if "<html" in response.text[:500].lower() else "no JSON")
        )
        details = {"method": method, "http_status": status}
        if status == 429:
            return errors.RateLimitedError("HTTP 429 Too Many Requests", retry_after=_retry_after(response), **details)
        if status == 425:
            return errors.BlockedError("HTTP 425: app key blocked", retry_after=_retry_after(response), **details)
        if status == 403 and shape == "an HTML page":
            # The gateway's page during bursts; the key faults come as Omie's own text (omie-api.md §15).
            return errors.ThrottledError("HTTP 403 with an HTML page from Omie's gateway", **details)
        if status in (401, 403):
            return errors.AuthenticationError(f"HTTP {status}: Omie refused the app key", **details)
        if status == 404:
            return errors.ValidationError(f"HTTP 404: no Omie service at {response.url}", **details)
        if status >= 500 or status < 400:
            return errors.TransientError(f"HTTP {status} with {shape} instead of Omie's answer", **details)
        return errors.RefusedError(f"HTTP {status} with {shape}", **details)


def _raise_if_refused(answer: dict[str, Any], method: str, http_status: int, redact) -> None:
    """A `cCodStatus` other than "0" is Omie saying no, even inside HTTP 200."""
    for code_field, text_fields in STATUS_FIELDS.items():
        if code_field not in answer:
            continue
        code = str(answer.get(code_field) or "").strip()
        if code in ("", "0"):
            return
        text = next((str(answer[name]).strip() for name in text_fields if answer.get(name)), "")
        description = redact(text) or f"{code_field} {code} without a description"
        raise fault_error(description, "", http_status=http_status, method=method, refusal_status=code)


def _never_left(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach Omie (could not connect at all)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.replace(".", "", 1).isdigit() else None
