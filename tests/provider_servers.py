"""Local stand-ins of the providers, checking requests as the providers document them.

:class:`AliyunSmsServer` checks a ``SendSms`` call as Alibaba Cloud's RPC gateway does
(its public documentation of the RPC-style API's signature, 签名机制 version 1.0, and of
SendSms 2017-05-25):
the common parameters present, ``SignatureMethod`` HMAC-SHA1, ``SignatureVersion`` 1.0,
``Timestamp`` in UTC ISO 8601 within 15 minutes, the signature recomputed from the documented
steps (Java's ``URLEncoder`` then ``+``→``%20``, ``*``→``%2A``, ``%7E``→``~``; the sorted
pairs joined with ``&``; ``POST&%2F&`` + the encoded string; HMAC-SHA1 with the secret and
``&``; Base64), a ``SignatureNonce`` seen before refused with ``SignatureNonceUsed``. Only
accepted messages are counted (``accepted``: OutId → count).

:class:`WeComServer` checks a group robot's ``POST /cgi-bin/webhook/send?key=…`` (JSON
``{"msgtype": "text", "text": {"content": …}}``) and answers ``{"errcode": 0, "errmsg": "ok"}``.
Both can be told to fail the next calls (``fail_next``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote_plus, urlsplit

from gridmap.core import clock

ACCESS_KEY_ID = "LTAI-test-key"
ACCESS_KEY_SECRET = "test-secret-Of-the-key"
REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "RegionId",
    "SignName",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "TemplateCode",
    "Timestamp",
    "Version",
    "Signature",
)


def _documented_encode(value: str) -> str:
    return (
        quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def documented_signature(pairs: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        _documented_encode(k) + "=" + _documented_encode(pairs[k]) for k in sorted(pairs)
    )
    to_sign = "POST&" + _documented_encode("/") + "&" + _documented_encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class _Server:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.fail_next = 0
        self.on_accept: Callable[[int], None] | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                status, answer = outer.handle(self.path, self.headers, self.rfile.read(length))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError


class AliyunSmsServer(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.nonces: set[str] = set()

    @staticmethod
    def check(pairs: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        """The gateway's checks of a call; None when it passes (``Signature`` removed)."""
        missing = [p for p in REQUIRED if p not in pairs]
        if missing:
            return 400, {"Code": "MissingParameter", "Message": ", ".join(missing)}
        if pairs["Action"] != "SendSms" or pairs["Version"] != "2017-05-25":
            return 400, {"Code": "InvalidAction"}
        if (pairs["SignatureMethod"], pairs["SignatureVersion"]) != ("HMAC-SHA1", "1.0"):
            return 400, {"Code": "InvalidSignatureMethod"}
        if pairs["AccessKeyId"] != ACCESS_KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound"}
        stamp = dt.datetime.strptime(pairs["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC
        )
        # Judged by the one clock, which a test may have set for the sender too.
        if abs(clock.now() - stamp) > dt.timedelta(minutes=15):
            return 400, {"Code": "InvalidTimeStamp.Expired"}
        signature = pairs.pop("Signature")
        if not hmac.compare_digest(signature, documented_signature(pairs, ACCESS_KEY_SECRET)):
            return 400, {"Code": "SignatureDoesNotMatch"}
        return None

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return 400, {"Code": "InvalidContentType"}
        pairs = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        refused = self.check(pairs)
        if refused is not None:
            return refused
        json.loads(pairs.get("TemplateParam", "{}"))
        with self.lock:
            if pairs["SignatureNonce"] in self.nonces:
                return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}
            self.nonces.add(pairs["SignatureNonce"])
            if self.fail_next > 0:
                self.fail_next -= 1
                return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}
            self.accepted[pairs.get("OutId", "")] += 1
            self.bodies.append(pairs)
            count = sum(self.accepted.values())
        if self.on_accept is not None:
            self.on_accept(count)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{count}", "RequestId": "r"}


class WeComServer(_Server):
    KEY = "robot-key-1"

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        where = urlsplit(path)
        if where.path != "/cgi-bin/webhook/send":
            return 404, {"errcode": 404, "errmsg": "not found"}
        if parse_qs(where.query).get("key") != [self.KEY]:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        message = json.loads(body)
        if message.get("msgtype") != "text" or not isinstance(message.get("text"), dict):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        content = message["text"].get("content")
        if not isinstance(content, str) or len(content.encode()) > 2048:
            return 200, {"errcode": 40058, "errmsg": "content exceed max length"}
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
            self.accepted[content] += 1
            self.bodies.append(message)
        return 200, {"errcode": 0, "errmsg": "ok"}
