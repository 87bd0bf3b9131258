"""Django's SMTP backend, with a DATA step that tells an unanswered message from a lost connection.

smtplib raises the same SMTPServerDisconnected whether the connection was lost at MAIL or RCPT
(nothing was sent: safe to retry) or after the message's final "." was sent (the server may
have stored it: sending again could deliver a second copy). Here the second case raises
SMTPDataUnanswered instead, which delivery treats as "in doubt, for a human" (docs/delivery.md).
"""

import smtplib

from django.core.mail.backends.smtp import EmailBackend as DjangoEmailBackend

from .smtp_errors import SMTPDataUnanswered

END_OF_DATA = b"\r\n.\r\n"  # smtplib sends the message and this ending in one call, then reads the answer


class _DataAnswerWatched:
    _message_sent = False

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes) and s.endswith(END_OF_DATA):
            self._message_sent = True

    def data(self, msg):
        self._message_sent = False
        try:
            return super().data(msg)
        except smtplib.SMTPServerDisconnected as exc:  # smtplib's wrapping of every socket error and timeout
            if self._message_sent:
                raise SMTPDataUnanswered(f"The message was sent but the server never answered it ({exc}).") from exc
            raise


class SMTP(_DataAnswerWatched, smtplib.SMTP):
    pass


class SMTP_SSL(_DataAnswerWatched, smtplib.SMTP_SSL):  # noqa: N801 (smtplib's name)
    pass


class EmailBackend(DjangoEmailBackend):
    @property
    def connection_class(self):
        return SMTP_SSL if self.use_ssl else SMTP
