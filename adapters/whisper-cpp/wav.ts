/**
 * The smallest WAV writer and reader rmxd needs: the inference probe posts a short tone it generates itself
 * (whisper-server reads 16 kHz mono 16-bit PCM), and routed transcriptions are timed by their audio duration.
 */

export const WHISPER_SAMPLE_RATE = 16_000;
const HEADER_BYTES = 44;

/** 16-bit PCM mono WAV of `samples` (each clamped to [-1, 1]). */
export function writeWav(samples: Float32Array | number[], sampleRate = WHISPER_SAMPLE_RATE): Buffer {
  const n = samples.length;
  const out = Buffer.alloc(HEADER_BYTES + n * 2);
  out.write("RIFF", 0, "ascii");
  out.writeUInt32LE(36 + n * 2, 4);
  out.write("WAVE", 8, "ascii");
  out.write("fmt ", 12, "ascii");
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write("data", 36, "ascii");
  out.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    out.writeInt16LE(Math.round(s * 32767), HEADER_BYTES + i * 2);
  }
  return out;
}

/** `seconds` of a sine at `hz` with amplitude `amplitude`, as a 16 kHz mono WAV. */
export function toneWav(seconds: number, hz = 440, amplitude = 0.5): Buffer {
  const n = Math.round(seconds * WHISPER_SAMPLE_RATE);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) samples[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / WHISPER_SAMPLE_RATE);
  return writeWav(samples);
}

/** The probe's audio: 0.5 s of 440 Hz, built once (16 044 bytes). */
export const PROBE_WAV: Buffer = toneWav(0.5);

/**
 * Duration of a RIFF/WAVE file in seconds from its `fmt ` byte rate and `data` size; `undefined` when the
 * buffer is not a WAV this reader understands (the caller then does not count its duration).
 */
export function wavDurationSeconds(wav: Buffer): number | undefined {
  if (wav.length < 12 || wav.toString("ascii", 0, 4) !== "RIFF" || wav.toString("ascii", 8, 12) !== "WAVE")
    return undefined;
  let byteRate: number | undefined;
  let offset = 12;
  while (offset + 8 <= wav.length) {
    const id = wav.toString("ascii", offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt " && body + 12 <= wav.length) byteRate = wav.readUInt32LE(body + 8);
    if (id === "data") {
      if (byteRate === undefined || byteRate === 0) return undefined;
      // A streamed WAV may say 0xffffffff: count what is there.
      const bytes = Math.min(size, wav.length - body);
      return bytes / byteRate;
    }
    offset = body + size + (size % 2);
  }
  return undefined;
}
