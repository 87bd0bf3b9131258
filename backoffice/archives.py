"""ZIP files the back office makes for people to download (a subject access export, an audit pack)."""

import io
import zipfile

from django.utils import timezone


def zip_bytes(files: dict[str, bytes], *, made_at) -> bytes:
    """The same files and time give the same bytes."""
    out = io.BytesIO()
    stamp = timezone.localtime(made_at).timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), files[name], compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
