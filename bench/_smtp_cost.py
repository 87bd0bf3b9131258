"""What one donor email costs in CPU: the client building and sending it, and the SMTP sink receiving it.

    .venv/bin/python bench/_smtp_cost.py        # BENCH_SENDS=300

Sends BENCH_SENDS messages shaped like a donor summary email (text and HTML parts, a 51 KB PDF
attachment) over one kept connection, the way `delivery.services.message_send` does, to an
aiosmtpd sink running in a process of its own, and prints JSON lines: the client's CPU per message
(building the MIME message and sending it), of which building alone, and the sink's CPU per
message. Not run by bench/run.py; docs/delivery.md uses it to account for a delivered report's CPU.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(DJANGO_SETTINGS_MODULE="backoffice.settings", DEBUG="0", SECRET_KEY="bench-only-key-not-a-secret")
SENDS = int(os.environ.get("BENCH_SENDS", "300"))


def emit(name, value, unit):
    print(json.dumps({"name": name, "value": value, "unit": unit}), flush=True)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    import django

    django.setup()
    from django.core.mail import EmailMultiAlternatives
    from django.core.mail.backends.smtp import EmailBackend

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    pdf = os.urandom(51_000)

    def message():
        m = EmailMultiAlternatives(
            subject="Your impact summary", body="Dear donor,\n" * 40, to=["grants@example.org"],
            from_email="reports@fundtrace.invalid",
        )  # fmt: skip
        m.attach_alternative("<p>Dear donor,</p>" * 40, "text/html")
        m.attach("impact-summary.pdf", pdf, "application/pdf")
        return m

    try:
        for _ in range(50):  # the sink is up when a connection opens
            try:
                connection = EmailBackend(host="127.0.0.1", port=port, use_tls=False, fail_silently=False)
                connection.open()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(20):
            connection.send_messages([message()])
        cpu = time.process_time()
        for _ in range(SENDS):
            message().message().as_bytes(linesep="\r\n")
        build = (time.process_time() - cpu) / SENDS
        sink_cpu, cpu, wall = cpu_seconds(sink.pid), time.process_time(), time.perf_counter()
        for _ in range(SENDS):
            connection.send_messages([message()])
        client = (time.process_time() - cpu) / SENDS
        emit("email_client_cpu_ms", round(1000 * client, 2), "ms")
        emit("email_build_cpu_ms", round(1000 * build, 2), "ms")
        emit("email_sink_cpu_ms", round(1000 * (cpu_seconds(sink.pid) - sink_cpu) / SENDS, 2), "ms")
        emit("email_send_wall_ms", round(1000 * (time.perf_counter() - wall) / SENDS, 2), "ms")
        connection.close()
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
