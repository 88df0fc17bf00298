// A few notes through WebAudio (no sound files) to announce a new alarm or task; silent where there is no audio.
let audio = null;

function context() {
  audio ??= new AudioContext();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

// Browsers allow sound after the first gesture: open the audio context then, so later announcements can sound.
for (const type of ["pointerdown", "keydown"]) {
  addEventListener(type, () => { try { context(); } catch { /* no audio */ } }, { once: true, capture: true });
}

/** Play notes [[start offset s, Hz], …], each `length` s long; the page's title and badge announce it anyway. */
export function chime(notes, { volume = 0.2, length = 0.16 } = {}) {
  try {
    const ctx = context(), at = ctx.currentTime;
    for (const [offset, hz] of notes) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, at + offset);
      gain.gain.exponentialRampToValueAtTime(volume, at + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + offset + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at + offset);
      osc.stop(at + offset + length + 0.01);
    }
  } catch { /* no audio device */ }
}
