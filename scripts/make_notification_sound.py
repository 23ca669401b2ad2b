"""Writes static/dashboard/notification.wav: the dashboard's notification chime.

Two short sine tones (E6 then A5) with a soft attack and an exponential decay, 16-bit mono at
11,025 Hz, about 6 KB. Generated rather than downloaded so that its origin and licence are
plain; run again after changing it: ``.venv/bin/python scripts/make_notification_sound.py``.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 11_025
TONES = ((1318.5, 0.12), (880.0, 0.16))  # (Hz, seconds)
VOLUME = 0.45
OUT = Path(__file__).resolve().parents[1] / "static" / "dashboard" / "notification.wav"


def samples() -> list[int]:
    out: list[int] = []
    for frequency, seconds in TONES:
        count = int(RATE * seconds)
        for n in range(count):
            t = n / RATE
            attack = min(1.0, n / (RATE * 0.005))
            decay = math.exp(-5.0 * t / seconds)
            value = VOLUME * attack * decay * math.sin(2 * math.pi * frequency * t)
            out.append(round(value * 32767))
    return out


def main() -> None:
    with wave.open(str(OUT), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(RATE)
        sound.writeframes(b"".join(struct.pack("<h", s) for s in samples()))
    print(f"{OUT}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
