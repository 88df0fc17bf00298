"""E-mail over SMTP (STARTTLS, implicit TLS, or plain to a loopback relay) with stdlib smtplib in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, localtime

from homecare.backend.notifications import PermanentDeliveryError, TransientDeliveryError
from homecare.backend.notifications.channels import OutboundMessage
from homecare.backend.notifications.settings import NotificationSettings, check_email_address

MESSAGE_ID_DOMAIN = "homecare.invalid"


def compose(message: OutboundMessage, *, settings: NotificationSettings) -> EmailMessage:
    """The MIME message: UTF-8 plain text; the Message-ID derives from the delivery id so retries can be recognised."""
    try:
        to = check_email_address(message.recipient)
    except ValueError as err:
        raise PermanentDeliveryError(str(err)) from err
    mail = EmailMessage()
    mail["From"] = Address(display_name=settings.mail_from_name, addr_spec=settings.mail_from)
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(localtime())
    about = "dose" if message.incident_id is None else f"incident-{message.incident_id}"
    mail["Message-ID"] = f"<notification-{message.delivery_id}.{about}@{MESSAGE_ID_DOMAIN}>"
    if message.incident_id is not None:
        mail["X-Homecare-Incident"] = str(message.incident_id)
    mail["Content-Language"] = "zh-CN, en"
    mail.set_content(message.body, charset="utf-8")
    return mail


def _send_blocking(mail: EmailMessage, settings: NotificationSettings) -> str:
    host = settings.smtp_host
    assert host is not None
    timeout = settings.smtp_timeout_s
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(host, settings.smtp_port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, settings.smtp_port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.smtp_username is not None and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        refused = smtp.send_message(mail)
        code, _ = smtp.noop()
    if refused:
        raise PermanentDeliveryError(f"recipients refused: {refused}")
    return f"accepted by {host}:{settings.smtp_port} (noop {code})"


class SmtpChannel:
    """Sends each message as one e-mail; 5xx answers are permanent, 4xx and network trouble are retried."""

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    async def send(self, message: OutboundMessage) -> str:
        if self._settings.smtp_host is None:
            raise PermanentDeliveryError("e-mail is not configured (HOMECARE_NOTIFY_SMTP_HOST)")
        mail = compose(message, settings=self._settings)
        try:
            return await asyncio.to_thread(_send_blocking, mail, self._settings)
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            error = f"recipient refused: {err.recipients}"
            if all(400 <= code < 500 for code in codes):
                raise TransientDeliveryError(error) from err
            raise PermanentDeliveryError(error) from err
        except smtplib.SMTPAuthenticationError as err:
            # Wrong credentials do not fix themselves, but an operator may fix the settings: keep retrying.
            raise TransientDeliveryError(f"SMTP authentication failed: {err.smtp_code}") from err
        except smtplib.SMTPResponseException as err:
            error = f"SMTP {err.smtp_code}: {err.smtp_error!r}"
            if 500 <= err.smtp_code < 600 and not isinstance(err, smtplib.SMTPSenderRefused):
                raise PermanentDeliveryError(error) from err
            raise TransientDeliveryError(error) from err
        except (smtplib.SMTPException, OSError) as err:  # OSError covers timeouts and TLS errors
            raise TransientDeliveryError(f"SMTP: {type(err).__name__}: {err}") from err
