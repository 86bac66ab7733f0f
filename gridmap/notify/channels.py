"""The channels a message goes by, behind one interface (:class:`Channel`).

- :class:`AliyunSms`: Alibaba Cloud SMS (阿里云短信服务), API ``SendSms`` version
  2017-05-25 over the RPC protocol: the parameters form-encoded in a POST, signed with
  signature version 1.0 (HMAC-SHA1 over ``POST&%2F&`` and the percent-encoded, sorted query,
  keyed with the AccessKey secret and ``&``). ``SignatureNonce`` is the idempotency key: the
  gateway refuses a nonce it has seen (``SignatureNonceUsed``) within its 15-minute window,
  which the sender reads as "delivered by the try whose answer was lost". ``OutId`` carries
  the outbox id.
- :class:`WeComRobot`: a WeCom group robot (企业微信群机器人) webhook, a JSON ``text``
  message; it has no idempotency key.
- :class:`Recorder`: the demo's and the tests' channel: sends nothing, the delivery row is
  the record of what would have been sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from gridmap.core import clock

#: Alibaba Cloud's answer to a nonce it has seen: the message went out before.
NONCE_USED = "SignatureNonceUsed"


@dataclass(frozen=True)
class Letter:
    """One message on its way: where to, the text, the request it is about, its idempotency
    key."""

    to: str
    text: str
    key: str
    outbox_id: int
    request_id: int | None


@dataclass(frozen=True)
class Answer:
    """A channel's answer. ``refused``: the provider said no (a retry must be a new message,
    with a new key); not refused and not ok: nobody knows (a retry keeps the key)."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    refused: bool = False
    error: str | None = None


class Channel(Protocol):
    """A way to deliver a letter; ``dry_run``: it only records (the demo)."""

    @property
    def dry_run(self) -> bool: ...

    def send(self, letter: Letter) -> Answer: ...


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's signature wants it (``~`` kept, space ``%20``)."""
    return quote(value, safe="~")


def rpc_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Signature version 1.0 of Alibaba Cloud's RPC API over ``params``."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _post(url: str, body: bytes, content_type: str, timeout: float) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}


@dataclass(frozen=True)
class AliyunSms:
    endpoint: str
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template: str
    timeout: float = 10.0
    region: str = "cn-hangzhou"
    dry_run: bool = False

    def params(self, letter: Letter, now: dt.datetime) -> dict[str, str]:
        """The signed request's parameters (``Signature`` included)."""
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": str(letter.outbox_id),
            "PhoneNumbers": letter.to,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": letter.key,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template,
            "TemplateParam": json.dumps(
                {"id": str(letter.request_id or ""), "content": letter.text}, ensure_ascii=False
            ),
            "Timestamp": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        return params | {"Signature": rpc_signature(params, self.access_key_secret)}

    def send(self, letter: Letter) -> Answer:
        body = urlencode(self.params(letter, clock.now())).encode()
        try:
            status, answer = _post(
                self.endpoint, body, "application/x-www-form-urlencoded", self.timeout
            )
        except (OSError, ValueError) as error:
            return Answer(False, error=f"SendSms: {error}")
        code = answer.get("Code") if isinstance(answer, dict) else None
        if code == "OK":
            return Answer(True, answer)
        if code == NONCE_USED:
            return Answer(True, answer | {"already_sent": True})
        if status >= 500 or code is None:
            return Answer(False, answer, error=f"SendSms: HTTP {status}")
        return Answer(False, answer, refused=True, error=f"SendSms: {code} {answer.get('Message')}")


@dataclass(frozen=True)
class WeComRobot:
    timeout: float = 10.0
    dry_run: bool = False

    def send(self, letter: Letter) -> Answer:
        body = {"msgtype": "text", "text": {"content": letter.text}}
        try:
            status, answer = _post(
                letter.to,
                json.dumps(body, ensure_ascii=False).encode(),
                "application/json",
                self.timeout,
            )
        except (OSError, ValueError) as error:
            return Answer(False, error=f"WeCom: {error}")
        code = answer.get("errcode") if isinstance(answer, dict) else None
        if status == 200 and code == 0:
            return Answer(True, answer)
        if status >= 500 or code is None:
            return Answer(False, answer, error=f"WeCom: HTTP {status}")
        return Answer(False, answer, refused=True, error=f"WeCom: {code} {answer.get('errmsg')}")


@dataclass(frozen=True)
class Recorder:
    """Sends nothing: the delivery row records what would have been sent."""

    dry_run: bool = True

    def send(self, letter: Letter) -> Answer:
        return Answer(True, {"recorded": True, "id": str(uuid.uuid4())})


@dataclass(frozen=True)
class Page:
    """The page's own list: the outbox is the list, nothing to send."""

    dry_run: bool = False

    def send(self, letter: Letter) -> Answer:
        return Answer(True, {"listed": True})
