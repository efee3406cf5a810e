/**
 * Which execution provider ran each node, read from an onnxruntime profile (SessionOptions.enableProfiling):
 * every node run is an event `{cat: 'Node', name: '<node>_kernel_time', args: {provider, op_name}}`. A GPU
 * session places what its provider has no kernel for on the CPU provider, silently; this says which ops did.
 * Pure: the caller reads the file.
 */

export interface ProviderShare {
  provider: string
  /** Distinct nodes this provider ran. */
  nodes: number
  /** Their summed kernel time over every profiled run, ms. */
  ms: number
}

export interface OpFallback {
  op: string
  provider: string
  /** Distinct nodes of this op on that provider. */
  nodes: number
  /** Up to five of their node names. */
  examples: string[]
}

export interface Placement {
  /** Distinct nodes that ran. */
  nodes: number
  providers: ProviderShare[]
  /** Ops that ran on a provider other than `wanted`, most nodes first. */
  fallbacks: OpFallback[]
}

interface ProfileEvent {
  cat?: string
  name?: string
  dur?: number
  args?: {provider?: string; op_name?: string}
}

/** Summarise a profile's node events against the provider that was asked for (e.g. WebGpuExecutionProvider). */
export function placementFromProfile(events: unknown, wanted: string): Placement {
  if (!Array.isArray(events)) throw new Error('an onnxruntime profile is a JSON array of events')
  const byProvider = new Map<string, {nodes: Set<string>; us: number}>()
  const byOp = new Map<string, {op: string; provider: string; nodes: Set<string>}>()
  for (const raw of events as ProfileEvent[]) {
    if (raw?.cat !== 'Node' || typeof raw.name !== 'string' || !raw.name.endsWith('_kernel_time')) continue
    const provider = raw.args?.provider
    if (typeof provider !== 'string') continue
    const node = raw.name.slice(0, -'_kernel_time'.length)
    const p = byProvider.get(provider) ?? {nodes: new Set<string>(), us: 0}
    p.nodes.add(node)
    p.us += typeof raw.dur === 'number' ? raw.dur : 0
    byProvider.set(provider, p)
    if (provider !== wanted) {
      const op = raw.args?.op_name ?? '?'
      const key = `${provider}\u0000${op}`
      const f = byOp.get(key) ?? {op, provider, nodes: new Set<string>()}
      f.nodes.add(node)
      byOp.set(key, f)
    }
  }
  const providers = [...byProvider.entries()]
    .map(([provider, p]) => ({provider, nodes: p.nodes.size, ms: p.us / 1000}))
    .sort((a, b) => b.nodes - a.nodes || a.provider.localeCompare(b.provider))
  const fallbacks = [...byOp.values()]
    .map((f) => ({op: f.op, provider: f.provider, nodes: f.nodes.size, examples: [...f.nodes].slice(0, 5)}))
    .sort((a, b) => b.nodes - a.nodes || a.op.localeCompare(b.op))
  return {nodes: providers.reduce((s, p) => s + p.nodes, 0), providers, fallbacks}
}

/** One line for a terminal: "406 nodes, all on WebGpuExecutionProvider" or the ops that fell back. */
export function describePlacement(p: Placement, wanted: string): string {
  if (p.nodes === 0) return 'no node runs were recorded'
  if (p.fallbacks.length === 0) return `${p.nodes} nodes, all on ${wanted}`
  const on = p.providers.find((x) => x.provider === wanted)?.nodes ?? 0
  const ops = p.fallbacks.map((f) => `${f.op} ×${f.nodes} on ${f.provider}`).join(', ')
  return `${p.nodes} nodes, ${on} on ${wanted}; fell back: ${ops}`
}
