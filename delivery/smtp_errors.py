"""Which SMTP failures a later attempt can fix: connection trouble, timeouts and 4xx answers.

Not a connection lost (or a timeout) after the whole message was sent and before the server
answered: the server may have stored it, and sending again could give the donor a second copy.
"""

import smtplib
import socket

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, TimeoutError, ConnectionError)


class SMTPDataUnanswered(smtplib.SMTPException):
    """The message and its final "." were sent, and no answer came: it may or may not have been stored."""


class RetryableSendError(Exception):
    """A send failed in a way a later attempt can fix, and the attempt is recorded: the task that
    raises it retries (Celery's autoretry_for, with its backoff)."""


def smtp_code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        # Every recipient was refused; the worst answer decides (a 5xx for anyone is permanent).
        return max(code for code, _ in exc.recipients.values())
    return None


def is_in_doubt(exc: BaseException) -> bool:
    return isinstance(exc, SMTPDataUnanswered)


def is_retryable(exc: BaseException) -> bool:
    if is_in_doubt(exc):
        return False
    if isinstance(exc, smtplib.SMTPConnectError):
        return True
    code = smtp_code(exc)
    if code is not None:
        return 400 <= code < 500
    return isinstance(exc, TRANSIENT)
