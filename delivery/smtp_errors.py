"""Which SMTP failures a later attempt can fix: connection trouble, timeouts and 4xx answers."""

import smtplib
import socket

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, TimeoutError, ConnectionError)


def smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        # Every recipient was refused; the worst answer decides (a 5xx for anyone is permanent).
        return max(code for code, _ in exc.recipients.values())
    return None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPConnectError):
        return True
    code = smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    return isinstance(exc, TRANSIENT)
