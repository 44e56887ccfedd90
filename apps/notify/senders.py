"""The four channel kinds: what their configuration holds, and how one message is sent.

Every connection follows the portal's client address policy (:mod:`apps.clusters.addresses`
through :mod:`apps.accounts.identity.network`): metadata, link-local, reserved addresses
refused; loopback only while ``PORTAL_ALLOW_LOOPBACK_CLUSTERS`` is on; the address checked is
the one connected to; redirects are not followed; HTTP answers are size-capped and the whole
request bounded by ``NOTIFY_HTTP_TIMEOUT``, SMTP sessions by ``NOTIFY_SMTP_TIMEOUT``.

- **smtp**: config ``host``, ``port``, ``security`` (none | starttls | tls), ``username``,
  ``from_address``, optional ``ca_cert`` (PEM) and ``verify_tls``; secret: the password.
  Mail is HTML (the autoescaped body) with a plain-text alternative; its Message-ID carries the
  message's uuid.
- **sms**: config ``url`` of an HTTP SMS gateway and optional ``extra`` fields; ``POST`` JSON
  ``{"to", "text", "message_id", …extra}`` with ``Authorization: Bearer <secret>``; any 2xx is
  success.
- **wechat**: a WeChat Work group robot; secret: its webhook URL (with the key); config
  ``msgtype`` markdown | text. The receiver's WeChat id (and mobile) are mentioned. The robot
  answers 200 with ``{"errcode": n}``: n ≠ 0 is a failure.
- **webhook**: config ``url`` and optional ``headers``; secret: the HMAC key. ``POST`` JSON with
  ``X-TKE-Timestamp`` and ``X-TKE-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
  body)>``, and ``X-TKE-Message-Id``. Any 2xx is success.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from apps.accounts.identity import network

from .choices import ChannelKind, SMTPSecurity

MAX_ANSWER_BYTES = 64 * 1024
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)


class DeliveryError(Exception):
    """A message could not be sent; the text says why (stored as the message's last error)."""


@dataclass
class Outgoing:
    """One message as a sender sees it."""

    message_id: str
    destination: str
    subject: str
    body: str
    receiver_name: str = ""
    mobile: str = ""
    alert_status: str = ""
    source: str = ""


# -- configuration -----------------------------------------------------------------------------
def _url_errors(value, field: str, errors: dict) -> str:
    if not isinstance(value, str) or not value:
        errors[field] = [_("A URL is required.")]
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors[field] = [_("Only http:// and https:// URLs with a host are allowed.")]
        return ""
    return value


def _check_address(url: str, field: str, errors: dict) -> None:
    """The URL's host now: a refused address is a validation error (it is checked again at
    every connection: a name can resolve elsewhere later)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        network.check_host(parts.hostname, port)
    except network.AddressRefused as exc:
        errors[field] = [str(exc)]
    except ValueError:
        errors[field] = [_("The port is not a number.")]
    except OSError:
        pass  # does not resolve now: delivery reports it, the channel may still be saved


def validate_config(kind: str, config, secret: str) -> dict:
    """The configuration of a ``kind`` channel, cleaned; a ValidationError names the field
    (``config.host``, ``secret``…)."""
    if not isinstance(config, dict):
        raise ValidationError({"config": [_("An object is required.")]})
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if kind == ChannelKind.SMTP:
        host = config.get("host")
        if not isinstance(host, str) or not host.strip():
            errors["config.host"] = [_("The SMTP server's host name is required.")]
        else:
            clean["host"] = host.strip()
        port = config.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            errors["config.port"] = [_("A port number (1-65535).")]
        else:
            clean["port"] = port
        security = config.get("security", SMTPSecurity.NONE)
        if security not in SMTPSecurity.values:
            errors["config.security"] = [_("One of none, starttls, tls.")]
        else:
            clean["security"] = security
        clean["username"] = str(config.get("username") or "")
        sender = config.get("from_address")
        try:
            EmailValidator()(sender or "")
            clean["from_address"] = sender
        except ValidationError:
            errors["config.from_address"] = [_("A valid email address is required.")]
        clean["verify_tls"] = bool(config.get("verify_tls", True))
        ca_cert = config.get("ca_cert") or ""
        if ca_cert and (not isinstance(ca_cert, str) or "BEGIN CERTIFICATE" not in ca_cert):
            errors["config.ca_cert"] = [_("A PEM certificate bundle.")]
        elif ca_cert:
            clean["ca_cert"] = ca_cert
        if clean.get("host") and clean.get("port") and not errors.get("config.host"):
            _check_address(f"smtp://{clean['host']}:{clean['port']}", "config.host", errors)
    elif kind in (ChannelKind.SMS, ChannelKind.WEBHOOK):
        url = _url_errors(config.get("url"), "config.url", errors)
        if url:
            _check_address(url, "config.url", errors)
            clean["url"] = url
        if kind == ChannelKind.SMS:
            extra = config.get("extra") or {}
            if not isinstance(extra, dict):
                errors["config.extra"] = [_("An object of extra fields for the gateway.")]
            else:
                clean["extra"] = extra
        else:
            headers = config.get("headers") or {}
            if not isinstance(headers, dict):
                errors["config.headers"] = [_("An object of header names and values.")]
            else:
                for name, value in headers.items():
                    lowered = str(name).lower()
                    if (
                        not _HEADER_NAME.match(str(name))
                        or lowered in _RESERVED_HEADERS
                        or lowered.startswith("x-tke-")
                    ):
                        errors["config.headers"] = [
                            _("Header %(name)s cannot be set.") % {"name": name}
                        ]
                    elif not isinstance(value, str) or "\n" in value or "\r" in value:
                        errors["config.headers"] = [
                            _("Header %(name)s: a one-line text value.") % {"name": name}
                        ]
                clean["headers"] = headers
            if not secret:
                errors["secret"] = [_("A webhook needs its signing secret.")]
    elif kind == ChannelKind.WECHAT:
        msgtype = config.get("msgtype", "markdown")
        if msgtype not in ("markdown", "text"):
            errors["config.msgtype"] = [_("One of markdown, text.")]
        clean["msgtype"] = msgtype
        url = _url_errors(secret, "secret", errors)
        if url:
            _check_address(url, "secret", errors)
    else:
        errors["kind"] = [_("One of smtp, sms, wechat, webhook.")]
    if errors:
        raise ValidationError(errors)
    return clean


def destination_field(kind: str) -> str | None:
    """The receiver's field a message of this kind goes to (None: the channel's URL)."""
    return {
        ChannelKind.SMTP: "email",
        ChannelKind.SMS: "mobile",
        ChannelKind.WECHAT: "wechat_id",
    }.get(kind)


# -- sending -----------------------------------------------------------------------------------
def send(channel, out: Outgoing) -> None:
    """Send ``out`` through ``channel``; raises :class:`DeliveryError`."""
    sender = {
        ChannelKind.SMTP: _send_smtp,
        ChannelKind.SMS: _send_sms,
        ChannelKind.WECHAT: _send_wechat,
        ChannelKind.WEBHOOK: _send_webhook,
    }.get(channel.kind)
    if sender is None:
        raise DeliveryError(f"unknown channel kind {channel.kind}")
    sender(channel, out)


def _post(url: str, body: bytes, headers: dict) -> requests.Response:
    timeout = settings.NOTIFY_HTTP_TIMEOUT
    try:
        response = network.request(
            "POST",
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
            max_bytes=MAX_ANSWER_BYTES,
        )
    except network.AddressRefused as exc:
        raise DeliveryError(f"{_safe_url(url)}: {exc}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"{_safe_url(url)}: {_describe(exc, url)}") from None
    except OSError as exc:  # the name does not resolve
        raise DeliveryError(f"{_safe_url(url)}: {_describe(exc, url)}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(
            f"{_safe_url(url)} answered HTTP {response.status_code}: {response.text[:200].strip()}"
        )
    return response


def _describe(exc: Exception, url: str) -> str:
    """The error in one line, without the URL's query (urllib3 names the URL it tried, and a
    WeChat robot's key is in its query): the message's last error is shown to its readers."""
    text = str(exc).replace("\n", " ")
    query = urlsplit(url).query
    if query:
        text = text.replace(query, "…")
    return text[:300]


def _safe_url(url: str) -> str:
    """The URL without its query (a robot's key is in it)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _send_sms(channel, out: Outgoing) -> None:
    config = channel.config
    payload = {
        **(config.get("extra") or {}),
        "to": out.destination,
        "text": out.body,
        "message_id": out.message_id,
    }
    headers = {"X-TKE-Message-Id": out.message_id}
    if channel.secret:
        headers["Authorization"] = f"Bearer {channel.secret}"
    _post(config["url"], json.dumps(payload).encode(), headers)


def _send_wechat(channel, out: Outgoing) -> None:
    msgtype = channel.config.get("msgtype", "markdown")
    text = f"{out.subject}\n{out.body}" if out.subject else out.body
    if msgtype == "markdown":
        mention = f"\n<@{out.destination}>" if out.destination else ""
        payload: dict = {"msgtype": "markdown", "markdown": {"content": text + mention}}
    else:
        payload = {
            "msgtype": "text",
            "text": {
                "content": text,
                "mentioned_list": [out.destination] if out.destination else [],
                "mentioned_mobile_list": [out.mobile] if out.mobile else [],
            },
        }
    response = _post(channel.secret, json.dumps(payload, ensure_ascii=False).encode(), {})
    try:
        answer = json.loads(response.content or b"{}")
    except ValueError:
        raise DeliveryError(
            f"{_safe_url(channel.secret)}: the robot's answer is not JSON"
        ) from None
    if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
        detail = answer.get("errmsg", "") if isinstance(answer, dict) else ""
        code = answer.get("errcode") if isinstance(answer, dict) else "?"
        raise DeliveryError(f"WeChat robot refused the message: errcode {code} {detail}".strip())


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _send_webhook(channel, out: Outgoing) -> None:
    config = channel.config
    body = json.dumps(
        {
            "message_id": out.message_id,
            "receiver": out.receiver_name,
            "subject": out.subject,
            "body": out.body,
            "alert_status": out.alert_status,
            "source": out.source,
        },
        ensure_ascii=False,
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        **(config.get("headers") or {}),
        "X-TKE-Timestamp": timestamp,
        "X-TKE-Signature": sign(channel.secret, timestamp, body),
        "X-TKE-Message-Id": out.message_id,
    }
    _post(config["url"], body, headers)


class _CheckedSMTP(smtplib.SMTP):
    """Connects through the client address policy (the checked address is the one used)."""

    def _get_socket(self, host, port, timeout):
        return network.connect(host, port, timeout)


class _CheckedSMTPSSL(smtplib.SMTP_SSL, _CheckedSMTP):
    pass


def _tls_context(config: dict) -> ssl.SSLContext:
    if not config.get("verify_tls", True):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if config.get("ca_cert"):
        return ssl.create_default_context(cafile=network.ca_file(config["ca_cert"]))
    return ssl.create_default_context()


def _send_smtp(channel, out: Outgoing) -> None:
    config = channel.config
    mail = EmailMessage()
    mail["Subject"] = out.subject.replace("\n", " ").replace("\r", " ")
    mail["From"] = config["from_address"]
    mail["To"] = out.destination
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(idstring=out.message_id, domain="tkeportal")
    mail["X-TKE-Message-Id"] = out.message_id
    mail.set_content(html.unescape(strip_tags(out.body)))
    mail.add_alternative(out.body, subtype="html")
    host, port, security = config["host"], config["port"], config.get("security", "none")
    timeout = settings.NOTIFY_SMTP_TIMEOUT
    try:
        if security == SMTPSecurity.TLS:
            client: smtplib.SMTP = _CheckedSMTPSSL(
                host, port, timeout=timeout, context=_tls_context(config)
            )
        else:
            client = _CheckedSMTP(host, port, timeout=timeout)
        with client:
            if security == SMTPSecurity.STARTTLS:
                client.starttls(context=_tls_context(config))
            if config.get("username"):
                client.login(config["username"], channel.secret)
            client.send_message(mail)
    except network.AddressRefused as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc}") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc}") from None
