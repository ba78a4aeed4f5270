"""The simulated PBX's call recordings: real WAV files (8 kHz mono 16-bit, as Asterisk
records), made on request from the recording's path, so the same link always gives the
same bytes and every call sounds different."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import random
import re
import sys
import wave
from array import array
from collections import OrderedDict
from urllib.parse import unquote, urlsplit

SAMPLE_RATE = 8000
MAX_SECONDS = 120
KEPT_RECORDINGS = 20_000  # as many as the CDR keeps: a path and a length each
AMPLITUDE = 6000
# A seeded call's recording (dashboard/seed.py: "<ddmmyyyy>seed-<start>.<n>.wav"): the PBX
# never recorded those calls, so it plays a short made-up one of each.
SEEDED_RECORDING = re.compile(r"/callrecord/(?:[A-Za-z0-9]+/)*[0-9]{8}seed-[0-9]+\.[0-9]+\.wav")
SEEDED_SECONDS = (20, 60)


class Recordings:
    """The recordings of the last finished answered calls, by the path of their link."""

    def __init__(self, size: int = KEPT_RECORDINGS) -> None:
        self.size = size
        self._seconds: OrderedDict[str, int] = OrderedDict()

    def remember(self, link: str, talk_seconds: float) -> None:
        path = unquote(urlsplit(link).path)
        self._seconds[path] = max(1, min(MAX_SECONDS, round(talk_seconds)))
        self._seconds.move_to_end(path)
        while len(self._seconds) > self.size:
            self._seconds.popitem(last=False)

    def __contains__(self, path: str) -> bool:
        return path in self._seconds

    def wav(self, path: str) -> bytes | None:
        """The WAV file at `path` (a URL path, decoded), or None if the PBX has none."""
        seconds = self._seconds.get(path)
        if seconds is None and SEEDED_RECORDING.fullmatch(path):
            seconds = seeded_seconds(path)
        return None if seconds is None else recording_wav(path, seconds)


def seeded_seconds(path: str) -> int:
    """How long the made-up recording of a seeded call is: always the same for a path."""
    shortest, longest = SEEDED_SECONDS
    digest = hashlib.sha256(path.encode()).digest()
    return shortest + int.from_bytes(digest[:2]) % (longest - shortest + 1)


@functools.lru_cache(maxsize=8)
def recording_wav(seed: str, seconds: int) -> bytes:
    """`seconds` of two tones taking turns (with pauses), pitched after `seed`."""
    digest = hashlib.sha256(seed.encode()).digest()
    low = 300 + int.from_bytes(digest[:2]) % 300  # whole hertz: each 1 s block loops cleanly
    high = 650 + int.from_bytes(digest[2:4]) % 500
    blocks = [_tone(low), _tone(high), _silence()]
    pattern = random.Random(digest).choices(range(len(blocks)), weights=(4, 3, 1), k=seconds)
    samples = array("h")
    for choice in pattern:
        samples.extend(blocks[choice])
    if sys.byteorder == "big":
        samples.byteswap()  # WAV samples are little-endian
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@functools.cache
def _tone(hertz: int) -> array[int]:
    step = 2 * math.pi * hertz / SAMPLE_RATE
    return array("h", (round(AMPLITUDE * math.sin(step * n)) for n in range(SAMPLE_RATE)))


def _silence() -> array[int]:
    return array("h", bytes(2 * SAMPLE_RATE))
