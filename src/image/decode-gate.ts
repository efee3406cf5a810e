/**
 * libvips keeps one error buffer for the whole process, so when images are decoded concurrently (a batch is decoded
 * in parallel) a failed decode can be told another image's error: a truncated JPEG then reads "corrupt image:
 * decoder error" or "not an image" instead of "truncated image", depending on its neighbours in the batch. Error
 * rows would then differ between a run, its resumed or sharded twin and a rerun. So decodes run side by side (decodeRgb goes through one gate), and
 * one that fails is done once more alone (no other decode in flight, new ones held back): its reason then depends
 * only on its own bytes. Failures are rare, so the cost is small.
 */
export class DecodeGate {
  private running = 0
  private exclusive: Promise<void> | undefined
  private idle: Array<() => void> = []

  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.shared(fn)
    } catch {
      return this.alone(fn)
    }
  }

  private async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive
    this.running++
    try {
      return await fn()
    } finally {
      this.running--
      if (this.running === 0) for (const wake of this.idle.splice(0)) wake()
    }
  }

  private async alone<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive
    let release!: () => void
    this.exclusive = new Promise<void>((r) => (release = r))
    try {
      while (this.running > 0) await new Promise<void>((r) => this.idle.push(r))
      return await fn()
    } finally {
      this.exclusive = undefined
      release()
    }
  }
}
