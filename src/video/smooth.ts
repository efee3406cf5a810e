/**
 * Temporally smoothed probabilities for `--smooth S`: per track, an exponential moving average with a time
 * constant of S seconds, s ← s + α·(p − s) with α = 1 − exp(−Δt/S), Δt the time since the track's previous
 * frame. Time-based, so it means the same at any --fps and on variable frame rate clips; causal, so rows can be
 * written as frames are scored. A track's first frame is its own smoothed value.
 *
 * The state is the smoothed values as written to the CSV (`quantize`), so a resumed run that reads them back
 * continues exactly as the uninterrupted run.
 */
export class ProbabilitySmoother {
  private readonly state = new Map<number, {time: number; probs: Float64Array}>()

  constructor(
    readonly seconds: number,
    private readonly quantize: (p: number) => number,
  ) {
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new Error(`--smooth must be a positive number of seconds, got ${seconds}`)
  }

  /** The smoothed probabilities of `track` at `time`, given its raw ones. */
  next(track: number, time: number, probs: ArrayLike<number>): Float64Array {
    const prev = this.state.get(track)
    const out = new Float64Array(probs.length)
    if (!prev || prev.probs.length !== probs.length) {
      for (let k = 0; k < probs.length; k++) out[k] = this.quantize(probs[k]!)
    } else {
      const dt = Math.max(0, time - prev.time)
      const alpha = 1 - Math.exp(-dt / this.seconds)
      for (let k = 0; k < probs.length; k++) out[k] = this.quantize(prev.probs[k]! + alpha * (probs[k]! - prev.probs[k]!))
    }
    this.state.set(track, {time, probs: out})
    return out
  }

  /** Take a track's smoothed values as written (a resumed run replaying its rows). */
  observe(track: number, time: number, smoothed: ArrayLike<number>): void {
    this.state.set(track, {time, probs: Float64Array.from(smoothed)})
  }
}
