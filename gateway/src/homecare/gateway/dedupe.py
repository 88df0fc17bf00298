"""Drops messages whose (device, seq) was already seen, with a sliding window per device."""

from __future__ import annotations

from typing import Final

WINDOW: Final = 4096


class SeqWindow:
    """Per-device highest seq plus a bitmap of the WINDOW seqs below it.

    A seq older than the window is let through: the database's unique index is the final judge,
    and such resends are rare (a device that was offline for thousands of messages).
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # device id → (highest seq, bitmap whose bit k means seq (highest - k) was seen)
        self._seen: dict[int, tuple[int, int]] = {}

    def first_time(self, device_id: int, seq: int) -> bool:
        """Record seq; False when this device already sent it (within the window)."""
        entry = self._seen.get(device_id)
        if entry is None:
            self._seen[device_id] = (seq, 1)
            return True
        highest, bits = entry
        if seq > highest:
            shift = seq - highest
            bits = ((bits << shift) | 1) & ((1 << WINDOW) - 1) if shift < WINDOW else 1
            self._seen[device_id] = (seq, bits)
            return True
        offset = highest - seq
        if offset >= WINDOW:
            return True
        mask = 1 << offset
        if bits & mask:
            return False
        self._seen[device_id] = (highest, bits | mask)
        return True

    def forget(self, device_id: int, seq: int) -> None:
        """Un-see a seq whose message could not be stored, so its resend is accepted."""
        entry = self._seen.get(device_id)
        if entry is None:
            return
        highest, bits = entry
        offset = highest - seq
        if 0 <= offset < WINDOW:
            self._seen[device_id] = (highest, bits & ~(1 << offset))
