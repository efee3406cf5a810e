/**
 * The state_dict layout of the official POSTER++ modules: every key with its shape, whether the forward pass uses
 * it, and the (center, scale) of the deterministic parity-weight rule (see deterministic-weights.ts). Each block
 * file declares its own keys with these helpers; architecture.ts assembles them in the official order.
 */

export type ParamUse = 'forward' | 'unused' | 'buffer'

export interface ParamSpec {
  key: string
  shape: number[]
  dtype: 'float32' | 'int64'
  /** forward: read by the forward pass; unused: in the official state_dict but not used by it; buffer: derived. */
  use: ParamUse
  /** Deterministic weight rule: value = float32(center + scale * u), u uniform in [-1, 1). Null for int buffers. */
  center: number | null
  scale: number | null
}

export class SpecBuilder {
  readonly entries: ParamSpec[] = []

  constructor(private readonly use: ParamUse = 'forward') {}

  /** A child builder whose entries are marked unused (for modules the forward pass never calls). */
  unused(fn: (s: SpecBuilder) => void): this {
    const child = new SpecBuilder('unused')
    fn(child)
    this.entries.push(...child.entries)
    return this
  }

  param(key: string, shape: number[], center: number, scale: number): this {
    this.entries.push({key, shape, dtype: 'float32', use: this.use, center, scale})
    return this
  }

  buffer(key: string, shape: number[]): this {
    this.entries.push({key, shape, dtype: 'int64', use: 'buffer', center: null, scale: null})
    return this
  }

  /** A conv/linear weight: uniform with the variance of kaiming-uniform-like sqrt(3 / fan_in). */
  fanIn(key: string, shape: number[]): this {
    let fanIn = 1
    for (const d of shape.slice(1)) fanIn *= d
    return this.param(key, shape, 0, Math.sqrt(3 / fanIn))
  }

  bias(key: string, n: number): this {
    return this.param(key, [n], 0, 0.1)
  }

  conv(prefix: string, outC: number, inPerGroup: number, k: number, bias: boolean): this {
    this.fanIn(`${prefix}.weight`, [outC, inPerGroup, k, k])
    if (bias) this.bias(`${prefix}.bias`, outC)
    return this
  }

  linear(prefix: string, out: number, inF: number, bias = true): this {
    this.fanIn(`${prefix}.weight`, [out, inF])
    if (bias) this.bias(`${prefix}.bias`, out)
    return this
  }

  batchNorm(prefix: string, c: number): this {
    this.param(`${prefix}.weight`, [c], 1, 0.1)
    this.param(`${prefix}.bias`, [c], 0, 0.1)
    this.param(`${prefix}.running_mean`, [c], 0, 0.1)
    this.param(`${prefix}.running_var`, [c], 1, 0.5)
    return this.buffer(`${prefix}.num_batches_tracked`, [])
  }

  layerNorm(prefix: string, c: number): this {
    this.param(`${prefix}.weight`, [c], 1, 0.1)
    return this.param(`${prefix}.bias`, [c], 0, 0.1)
  }

  prelu(key: string, c: number): this {
    return this.param(key, [c], 0.25, 0.1)
  }
}
