import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import {afterAll, describe, expect, it} from 'vitest'
import {attr, GraphBuilder, modelStats, OnnxModel} from '../../src/onnx/graph.js'
import {modelByteLength, serializeModel, writeModel} from '../../src/onnx/write.js'

const {onnx} = onnxProto

/** y = LayerNorm(Gelu(x · W + b)) with a batch-dynamic input, plus a Reshape through a cached shape constant. */
function smallModel(weightDtype: 'float32' | 'float16' = 'float32'): OnnxModel {
  const g = new GraphBuilder({name: 'small', weightDtype})
  const x = g.input('input', 'float32', ['N', 4])
  const w = g.weight('fc.weight', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [4, 2])
  const b = g.weight('fc.bias', Float32Array.from([0.5, -0.5]), [2])
  const y = g.node('Add', [g.node('MatMul', [x, w], {}, {name: 'fc'}), b])
  const z = g.node('Gelu', [y], {approximate: 'none'})
  const ln = g.node('LayerNormalization', [z, g.float32([1, 2]), g.float32([0, 0])], {axis: -1, epsilon: attr.float(1e-5)})
  const r = g.node('Reshape', [ln, g.int64([0, 2, 1])])
  g.output(r, 'out', 'float32', ['N', 2, 1])
  g.output(z, 'act', 'float32', ['N', 2])
  return g.build({labels: '["a","b"]', note: 'ünïcode'}, 'a test graph')
}

describe('GraphBuilder', () => {
  it('gives unique names and caches constants', () => {
    const g = new GraphBuilder()
    expect(g.uniqueName('a')).toBe('a')
    expect(g.uniqueName('a')).toBe('a_1')
    expect(g.uniqueName('a')).toBe('a_2')
    expect(g.int64([0, -1])).toBe(g.int64([0, -1]))
    expect(g.int64([0, -1])).not.toBe(g.int64([0, 1]))
    expect(g.float32([1.5], [])).toBe(g.float32([1.5], []))
    const m = g.build()
    expect(m.graph.initializers.map((i) => i.tensor.dtype)).toEqual(['int64', 'int64', 'float32'])
  })

  it('types attributes: integers as INT, floats only when asked', () => {
    const g = new GraphBuilder()
    g.node('Foo', [], {a: 1, b: [1, 2], c: 'x', d: attr.float(1), e: 0.5})
    const a = g.build().graph.nodes[0]!.attributes
    expect(a).toEqual({
      a: {kind: 'int', value: 1},
      b: {kind: 'ints', value: [1, 2]},
      c: {kind: 'string', value: 'x'},
      d: {kind: 'float', value: 1},
      e: {kind: 'float', value: 0.5},
    })
    expect(() => g.node('Foo', [], {bad: [0.5]})).toThrow(/attr.floats/)
  })

  it('renames the producing node when a value is exported under another name', () => {
    const m = smallModel()
    const producers = m.graph.nodes.flatMap((n) => n.outputs)
    expect(producers).toContain('out')
    expect(producers).toContain('act')
    const ln = m.graph.nodes.find((n) => n.op === 'LayerNormalization')!
    expect(ln.inputs[0]).toBe('act') // the consumer follows the rename
  })

  it('counts ops and parameters', () => {
    const s = modelStats(smallModel())
    expect(s.ops).toEqual({MatMul: 1, Add: 1, Gelu: 1, LayerNormalization: 1, Reshape: 1})
    expect(s.nodes).toBe(5)
    expect(s.parameters).toBe(8 + 2 + 2 + 2 + 3)
  })

  it('rejects an initializer whose data does not match its shape', () => {
    const g = new GraphBuilder()
    expect(() => g.weight('w', new Float32Array(3), [2, 2])).toThrow(/does not match 3 values/)
  })
})

describe('ONNX serialisation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'poster-onnx-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('writes a ModelProto that decodes back with ir_version 10, opset 21, metadata and raw initializers', () => {
    const bytes = serializeModel(smallModel())
    expect(bytes.length).toBe(modelByteLength(smallModel()))
    const m = onnx.ModelProto.decode(bytes)
    expect(Number(m.irVersion)).toBe(10)
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 21]])
    expect(m.producerName).toBe('poster')
    expect(m.docString).toBe('a test graph')
    expect(m.metadataProps.map((p) => [p.key, p.value])).toEqual([
      ['labels', '["a","b"]'],
      ['note', 'ünïcode'],
    ])
    const g = m.graph!
    expect(g.name).toBe('small')
    expect(g.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 4])
    expect(g.output!.map((o) => o.name)).toEqual(['out', 'act'])
    const w = g.initializer!.find((i) => i.name === 'fc.weight')!
    expect(w.dims!.map(Number)).toEqual([4, 2])
    expect(w.dataType).toBe(1)
    expect(Array.from(new Float32Array(Uint8Array.from(w.rawData!).buffer))).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    const shape = g.initializer!.find((i) => i.dataType === 7)!
    expect(Array.from(new BigInt64Array(Uint8Array.from(shape.rawData!).buffer))).toEqual([0n, 2n, 1n])
    const lnNode = g.node!.find((n) => n.opType === 'LayerNormalization')!
    expect(lnNode.attribute!.map((a) => [a.name, a.type])).toEqual([
      ['axis', onnx.AttributeProto.AttributeType.INT],
      ['epsilon', onnx.AttributeProto.AttributeType.FLOAT],
    ])
  })

  it('runs in onnxruntime for any batch size, float32 and float16 weights alike', async () => {
    for (const dtype of ['float32', 'float16'] as const) {
      const session = await ort.InferenceSession.create(serializeModel(smallModel(dtype)))
      expect(session.inputNames).toEqual(['input'])
      expect(session.outputNames).toEqual(['out', 'act'])
      for (const n of [1, 2, 5]) {
        const x = new Float32Array(n * 4)
        for (let i = 0; i < n; i++) x[i * 4 + (i % 4)] = 1
        const r = await session.run({input: new ort.Tensor('float32', x, [n, 4])})
        expect(r.out!.dims).toEqual([n, 2, 1])
        const act = r.act!.data as Float32Array
        for (let i = 0; i < n; i++) {
          const k = i % 4
          const pre = [[1, 2], [3, 4], [5, 6], [7, 8]][k]!.map((v, j) => v + [0.5, -0.5][j]!)
          for (let j = 0; j < 2; j++) expect(act[i * 2 + j]).toBeCloseTo(geluRef(pre[j]!), 5)
        }
      }
      await session.release()
    }
  })

  it('stores float16 weights at half size with a Cast to float32 after each', () => {
    const m = smallModel('float16')
    const casts = m.graph.nodes.filter((n) => n.op === 'Cast')
    expect(casts).toHaveLength(2)
    expect(casts.map((c) => c.outputs[0])).toEqual(['fc.weight', 'fc.bias'])
    const w = m.graph.initializers.find((i) => i.name === 'fc.weight_fp16')!
    expect(w.tensor.dtype).toBe('float16')
    expect(w.tensor.data.byteLength).toBe(16)
    // shape constants and exact float32 constants are never converted
    expect(m.graph.initializers.filter((i) => i.tensor.dtype === 'float16')).toHaveLength(2)
  })

  it('writes files atomically, byte-identical to serializeModel, replacing an existing file', async () => {
    const path = join(dir, 'model.onnx')
    writeFileSync(path, 'old content')
    const {bytes} = await writeModel(smallModel(), path)
    const onDisk = readFileSync(path)
    expect(bytes).toBe(onDisk.length)
    expect(onDisk.equals(serializeModel(smallModel()))).toBe(true)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('leaves nothing behind when the target directory does not exist', async () => {
    const path = join(dir, 'missing', 'model.onnx')
    await expect(writeModel(smallModel(), path)).rejects.toThrow()
    expect(existsSync(join(dir, 'missing'))).toBe(false)
  })
})

function erf(x: number): number {
  // Maclaurin series, good to ~1e-12 below 3; erf(x) = 1 to double precision beyond 6.
  const t = Math.abs(x)
  let sum = 0
  if (t < 3) {
    let term = t
    let k = 0
    sum = t
    while (Math.abs(term) > 1e-17 * Math.abs(sum)) {
      k++
      term *= (-t * t) / k
      sum += term / (2 * k + 1)
    }
    sum *= 2 / Math.sqrt(Math.PI)
  } else {
    sum = 1
  }
  return x < 0 ? -sum : sum
}

function geluRef(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2))
}

