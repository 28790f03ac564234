"""Which files of a folder may have changed, from Linux inotify.

A long story has thousands of paragraph files; checking each for a hand edit
before every step costs a stat per file. A process that writes many steps
keeps a watch on the folder instead: after one full check, only the files
the kernel reports as touched are looked at. Where inotify is missing (not
Linux) or overflows, the caller is told to check everything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = 0o2000000
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x002, 0x004, 0x008
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x040, 0x080, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED = 0x4000, 0x8000
_FILE_EVENTS = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_Q_OVERFLOW | _IN_IGNORED
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.inotify_init1  # noqa: B018  (AttributeError where there is no inotify)
        return libc
    except (OSError, AttributeError):
        return None


class FolderWatch:
    """Names touched in one folder since the last `touched()` call."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._fd = -1
        libc = _libc()
        if libc is None:
            return
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return
        if libc.inotify_add_watch(fd, os.fsencode(self.folder), _FILE_EVENTS | _LOST) < 0:
            os.close(fd)
            return
        self._fd = fd

    @property
    def active(self) -> bool:
        return self._fd >= 0

    def touched(self) -> set[str] | None:
        """File names created, written, moved or deleted since the last call;
        None when the watch cannot tell (check every file then)."""
        if self._fd < 0:
            return None
        names: set[str] = set()
        lost = False
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                _, mask, _, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = data[offset : offset + length].rstrip(b"\0")
                offset += length
                if mask & _LOST:
                    lost = True
                elif name:
                    names.add(os.fsdecode(name))
        if lost:
            self.close()
            return None
        return names

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        self.close()
