"""Identifiers, etags and the platform clock of AEP Local.

With a seed every value is reproducible run to run: ids come from a seeded generator and the clock starts at a
fixed instant and only moves when something moves it (a tick per reading, or a fast-forward). Without a seed ids
are random and the clock follows the wall clock, shifted by any fast-forward.

Bearer tokens are never seeded (:meth:`Ids.token`). Etags are, yet never repeat across restarts: a seeded platform
reopened on its state seeds its ids with the store's opening sequence number, which grows on every opening
(:meth:`aep_magics.local.store.Store._open_seq`), so a stale ``If-Match`` cannot match a newer change.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid

# The instant a deterministic platform wakes up at: 2026-03-02T09:00:00Z.
DETERMINISTIC_EPOCH_MS = 1772442000000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Clock:
    """Milliseconds since the epoch, with fast-forward.

    Deterministic clocks advance by ``tick_ms`` on every reading so that successive resources get distinct,
    ordered, reproducible timestamps.
    """

    def __init__(self, deterministic: bool = False, tick_ms: int = 1000, start_ms: int = DETERMINISTIC_EPOCH_MS):
        self.deterministic = deterministic
        self._tick = tick_ms
        self._lock = threading.Lock()
        self._now = start_ms
        self._offset = 0

    def now_ms(self) -> int:
        with self._lock:
            if self.deterministic:
                self._now += self._tick
                return self._now
            return int(time.time() * 1000) + self._offset

    def peek_ms(self) -> int:
        """The current time without advancing a deterministic clock."""
        with self._lock:
            return self._now if self.deterministic else int(time.time() * 1000) + self._offset

    def advance(self, ms: int) -> int:
        """Move time forward (never backwards) and return the new time."""
        if ms < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self.deterministic:
                self._now += ms
            else:
                self._offset += ms
        return self.peek_ms()

    def set_offset(self, ms: int) -> None:
        """Restore a persisted fast-forward (wall-clock mode) or instant (deterministic mode)."""
        with self._lock:
            if self.deterministic:
                self._now = max(self._now, ms)
            else:
                self._offset = ms

    @property
    def offset_ms(self) -> int:
        return self._now if self.deterministic else self._offset


class Ids:
    """Factories for every id format the platform uses (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce)."""

    def __init__(self, seed: int | None = None):
        self._rand = random.Random(seed) if seed is not None else random.SystemRandom()
        self._lock = threading.Lock()
        self.deterministic = seed is not None

    def _bits(self, n: int) -> int:
        with self._lock:
            return self._rand.getrandbits(n)

    def _hex(self, chars: int) -> str:
        return f"{self._bits(chars * 4):0{chars}x}"

    def uuid(self) -> str:
        """Flow Service resources, runs, sandboxes: UUID v4."""
        return str(uuid.UUID(int=self._bits(128), version=4))

    def etag(self) -> str:
        """Quoted etag in the documented shape ``"xxxxxxxx-0000-0200-0000-xxxxxxxx0000"``."""
        return f'"{self._hex(8)}-0000-0200-0000-{self._hex(8)}0000"'

    def dataset(self) -> str:
        """Catalog dataset id: 24 hex characters."""
        return self._hex(24)

    def mapping_set(self) -> str:
        """Data Prep mapping set / mapping id: 32 lowercase hex characters."""
        return self._hex(32)

    def schema(self) -> str:
        """Tenant schema / field group hash: 48 hex characters."""
        return self._hex(48)

    def registry_etag(self) -> str:
        return self._hex(64)

    def batch(self, now_ms: int) -> str:
        """Batch id from source flows: 26-character ULID (48-bit time + 80 random bits, Crockford base32)."""
        value = (now_ms & ((1 << 48) - 1)) << 80 | self._bits(80)
        return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))

    def token(self) -> str:
        """Opaque bearer token (deliberately not JWT-shaped), from the operating system's randomness even with a
        seed: a token is a credential, and two servers started with one seed must not accept each other's tokens.
        It still takes its draw from the seeded sequence, so the ids issued after it are the ones the seed gives."""
        self._bits(48 * 4)
        return "aeplocal." + secrets.token_hex(24)

    def request_id(self) -> str:
        return self._hex(32)
