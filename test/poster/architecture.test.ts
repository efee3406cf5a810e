import {describe, expect, it} from 'vitest'
import {ArchitectureError, posterV2Spec, validatePosterWeights} from '../../src/poster/architecture.js'
import {buildPosterGraph} from '../../src/poster/build.js'
import type {HostTensor, TensorMap} from '../../src/tensor.js'
import {numel} from '../../src/tensor.js'
import {shapeOnlyWeights} from './helpers.js'

function zeros(shape: number[]): HostTensor {
  return {dtype: 'float32', shape, data: new Float32Array(numel(shape))}
}

function expectArchError(fn: () => unknown): ArchitectureError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ArchitectureError)
    return err as ArchitectureError
  }
  throw new Error('expected an ArchitectureError')
}

describe('POSTER++ state dict validation', () => {
  it('accepts the official layout and reads the class count from the head', () => {
    expect(validatePosterWeights(shapeOnlyWeights(7)).numClasses).toBe(7)
    expect(validatePosterWeights(shapeOnlyWeights(8)).numClasses).toBe(8)
    const w3 = shapeOnlyWeights(7)
    w3.set('VIT.head.linear.weight', zeros([3, 768]))
    w3.set('VIT.head.linear.bias', zeros([3]))
    expect(validatePosterWeights(w3).numClasses).toBe(3)
  })

  it('the spec lists 747 entries, of which the forward pass uses a subset', () => {
    const spec = posterV2Spec(7)
    expect(spec).toHaveLength(747)
    const unused = spec.filter((p) => p.use === 'unused').map((p) => p.key)
    expect(unused).toContain('ir_back.output_layer.3.weight')
    expect(unused).toContain('VIT.blocks.0.conv.weight')
    expect(unused).toContain('VIT.patch_embed.proj.weight')
    expect(unused).toContain('VIT.IRLinear1.weight')
    expect(unused).not.toContain('face_landback.output_layer.linear.weight') // the landmark head is an output
  })

  it("accepts 'module.' prefixes and the absence of unused weights and derived buffers", () => {
    const w: TensorMap = new Map()
    for (const [k, v] of shapeOnlyWeights(7)) {
      if (k.startsWith('ir_back.output_layer.') || k.includes('num_batches_tracked') || k.endsWith('relative_position_index')) continue
      if (k.startsWith('VIT.blocks.0.conv.') || k.startsWith('VIT.CON1')) continue
      w.set(`module.${k}`, v)
    }
    const r = validatePosterWeights(w)
    expect(r.numClasses).toBe(7)
    expect(r.weights.has('attn1.qkv.weight')).toBe(true)
  })

  it('names a dropped key', () => {
    const w = shapeOnlyWeights(7)
    w.delete('attn2.qkv.weight')
    const e = expectArchError(() => validatePosterWeights(w))
    expect(e.missing).toEqual(['attn2.qkv.weight'])
    expect(e.message).toContain('1 missing key (attn2.qkv.weight)')
  })

  it('names an unexpected key', () => {
    const w = shapeOnlyWeights(7)
    w.set('VIT.blocks.2.norm1.weight', zeros([768]))
    const e = expectArchError(() => validatePosterWeights(w))
    expect(e.unexpected).toEqual(['VIT.blocks.2.norm1.weight'])
    expect(e.message).toContain('unexpected key (VIT.blocks.2.norm1.weight)')
  })

  it('names a mis-shaped key with both shapes', () => {
    const w = shapeOnlyWeights(7)
    w.set('ffn1.mlp.fc1.weight', zeros([255, 64]))
    const e = expectArchError(() => validatePosterWeights(w))
    expect(e.mismatched).toEqual([{key: 'ffn1.mlp.fc1.weight', expected: '[256, 64]', actual: '[255, 64]'}])
    expect(e.message).toContain('ffn1.mlp.fc1.weight: [255, 64], expected [256, 64]')
  })

  it('rejects a relative_position_index that is not the derived one', () => {
    const w = shapeOnlyWeights(7)
    w.set('attn3.relative_position_index', {dtype: 'int64', shape: [49, 49], data: new BigInt64Array(49 * 49)})
    const e = expectArchError(() => validatePosterWeights(w))
    expect(e.mismatched[0]!.key).toBe('attn3.relative_position_index')
  })

  it('rejects a head whose class count differs from the requested one', () => {
    const e = expectArchError(() => validatePosterWeights(shapeOnlyWeights(8), {numClasses: 7}))
    expect(e.mismatched[0]!.key).toBe('VIT.head.linear.weight')
    // A sound POSTER++ whose only fault is the class count: the message says that, not "not a POSTER++".
    expect(e.message).toBe('this POSTER++ checkpoint has 8 classes (VIT.head.linear.weight [8, 768]), not the 7 requested; convert it with --classes 8 (or auto)')
  })

  it('a head of another class count on a state dict that is wrong elsewhere too: the full list', () => {
    const w = shapeOnlyWeights(8)
    w.delete('VIT.head.linear.bias')
    const e = expectArchError(() => validatePosterWeights(w, {numClasses: 7}))
    expect(e.message).toMatch(/^not a POSTER\+\+ \(POSTER V2\) state dict: 1 missing key \(VIT\.head\.linear\.bias\)/)
    expect(e.message).toContain('VIT.head.linear.weight: [8, 768], expected [7, 768] (7 classes requested)')
  })

  it('refuses a plain ResNet state dict readably', () => {
    const resnet: TensorMap = new Map([
      ['conv1.weight', zeros([64, 3, 7, 7])],
      ['bn1.weight', zeros([64])],
      ['bn1.bias', zeros([64])],
      ['layer1.0.conv1.weight', zeros([64, 64, 3, 3])],
      ['layer1.0.bn1.weight', zeros([64])],
      ['fc.weight', zeros([1000, 512])],
      ['fc.bias', zeros([1000])],
    ])
    const e = expectArchError(() => validatePosterWeights(resnet))
    // conv1.weight is also a POSTER++ key (the stage-1 downsampling conv), so it is reported as mis-shaped.
    expect(e.mismatched).toEqual([{key: 'conv1.weight', expected: '[64, 64, 3, 3]', actual: '[64, 3, 7, 7]'}])
    expect(e.unexpected).toEqual([...resnet.keys()].slice(1))
    expect(e.missing.length).toBeGreaterThan(400)
    expect(e.message).toMatch(/^not a POSTER\+\+ \(POSTER V2\) state dict: \d+ missing keys \(face_landback\.conv1\.conv\.weight, .* and \d+ more\)/)
    expect(e.message).toContain('6 unexpected keys (bn1.weight, bn1.bias, layer1.0.conv1.weight, layer1.0.bn1.weight, fc.weight and 1 more)')
    expect(e.message).toContain('conv1.weight: [64, 3, 7, 7], expected [64, 64, 3, 3]')
    expect(e.message).toContain('only 1 of the 747 POSTER++ keys is present')
    expect(e.hint).toMatch(/plain ResNet/)
  })

  it('refuses a POSTER V1 checkpoint with a hint', () => {
    const v1: TensorMap = new Map([
      ['module.face_landback.conv1.conv.weight', zeros([64, 3, 3, 3])],
      ['module.ir_back.body.0.res_layer.1.weight', zeros([64, 64, 3, 3])],
      ['module.ir_layer.weight', zeros([512, 1024])],
      ['module.pyramid_fuse.blocks.0.attn.qkv.weight', zeros([1536, 512])],
      ['module.head.linear.weight', zeros([7, 512])],
    ])
    const e = expectArchError(() => validatePosterWeights(v1))
    expect(e.unexpected).toContain('pyramid_fuse.blocks.0.attn.qkv.weight')
    expect(e.message).toContain('Hint: this looks like a POSTER (V1) checkpoint')
  })

  it('refuses an integer tensor where a float weight belongs', () => {
    const w = shapeOnlyWeights(7)
    w.set('conv1.bias', {dtype: 'int64', shape: [64], data: new BigInt64Array(64)})
    const e = expectArchError(() => validatePosterWeights(w))
    expect(e.mismatched[0]).toEqual({key: 'conv1.bias', expected: '[64] float', actual: '[64] int64'})
  })

  it('buildPosterGraph validates first', () => {
    expectArchError(() => buildPosterGraph(new Map()))
    const w = shapeOnlyWeights(7)
    w.delete('VIT.norm.weight')
    const e = expectArchError(() => buildPosterGraph(w))
    expect(e.message).toContain('VIT.norm.weight')
  })

  it('buildPosterGraph refuses a label list of the wrong length', () => {
    expect(() => buildPosterGraph(shapeOnlyWeights(7), {labels: ['a', 'b']})).toThrow(/2 labels given for a 7-class model/)
  })
})
