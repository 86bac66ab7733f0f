"""GeoReport v2's two formats: every Open311 answer as JSON or as the spec's XML, and every
error under ``/open311/`` as the spec's error list.

XML is written with the standard library's ``xml.etree.ElementTree`` (which escapes ``&``,
``<``, ``>`` and quotes); characters XML 1.0 cannot carry at all (control characters other
than tab and line breaks, U+FFFE/U+FFFF, lone surrogates) become U+FFFD, so an answer always
parses. Element names are the spec's: ``services/service``, ``service_definition``,
``service_requests/request``, ``errors/error``, ``discovery``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

from flask import Response, request

from gridmap.core.errors import PROBLEM_JSON

Format = Literal["json", "xml"]

XML_MIMETYPE = "text/xml"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
#: What XML 1.0 cannot hold, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: The element of each item of a list member (the spec's singulars).
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _fill(ET.SubElement(element, name), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, _ITEM.get(element.tag, "item")), item)
    elif value is not None:
        element.text = _text(value)


def to_xml(root: str, body: Any) -> str:
    """``body`` (a list of items or an object) as the XML document ``<root>``."""
    element = ET.Element(root)
    _fill(element, body)
    return _XML_DECLARATION + ET.tostring(element, encoding="unicode")


def answer(body: Any, fmt: Format, root: str, status: int = 200) -> Response:
    """An Open311 answer: ``body`` as JSON, or as XML under the element ``root``."""
    if fmt == "xml":
        return Response(to_xml(root, body), status=status, mimetype=XML_MIMETYPE)
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, mimetype="application/json")


def requested_format() -> Format:
    """The format the path asks for: ``….xml`` is XML, anything else JSON."""
    return "xml" if request.path.endswith(".xml") else "json"


def as_error_list(response: Response) -> Response:
    """After every request under ``/open311/``: a problem+json error becomes the spec's list
    ``[{"code", "description"}]`` (XML ``<errors><error>…``), in the path's format, with the
    HTTP status as its code and the problem's detail as its description; headers are kept
    (``WWW-Authenticate``, ``Allow``, ``Retry-After``)."""
    if not request.path.startswith("/open311/") or response.mimetype != PROBLEM_JSON:
        return response
    problem = json.loads(response.get_data(as_text=True))
    detail = problem.get("detail") or problem.get("title") or ""
    errors = [{"code": response.status_code, "description": detail}]
    shaped = answer(errors, requested_format(), "errors", response.status_code)
    response.set_data(shaped.get_data())
    response.mimetype = shaped.mimetype or "application/json"
    return response
