import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {LABEL_SETS} from '../../src/datasets/labels.js'
import {cacheDir, checkpointPath, onnxPath} from '../../src/models/cache.js'
import {findModel, getModel, MODELS, modelNames, PAPER, paperAccuracy} from '../../src/models/registry.js'

describe('registry', () => {
  it('lists the four official checkpoints with their Drive ids, classes and label sets', () => {
    expect(modelNames()).toEqual(['rafdb', 'affectnet7', 'affectnet8', 'caers'])
    expect(MODELS.rafdb.driveId).toBe('1aVm_hmJyZ5E_0p25XTbm3X9ophsKqCxv')
    expect(MODELS.affectnet7.driveId).toBe('1c_gp5UdlcMjIB2dZtdhXFfHOQg1OqU-D')
    expect(MODELS.affectnet8.driveId).toBe('1tdYH12vgWnIWfupuBkP3jmWS0pJtDxvh')
    expect(MODELS.caers.driveId).toBe('1Q7RDJxVPTkDH2rlhiAiOpSbIo1wUOqPv')
    for (const m of Object.values(MODELS)) {
      expect(m.labelSet).toBe(LABEL_SETS[m.name])
      expect(m.labelSet.names).toHaveLength(m.numClasses)
    }
    expect(MODELS.affectnet8.numClasses).toBe(8)
  })

  it('gives the paper figures', () => {
    expect(paperAccuracy('rafdb')).toBe(92.21)
    expect(paperAccuracy('affectnet7')).toBe(67.49)
    expect(paperAccuracy('affectnet8')).toBe(63.77)
    expect(paperAccuracy('RAF-DB')).toBe(92.21)
    expect(paperAccuracy('AffectNet (8 cls)')).toBe(63.77)
    expect(paperAccuracy('caers')).toBe(93)
    expect(paperAccuracy('fer2013')).toBeUndefined()
    expect(PAPER.gflops).toBe(8.4)
    expect(PAPER.paramsM).toBe(43.7)
  })

  it('finds models by name and alias, and lists the names when one is unknown', () => {
    expect(findModel('RAF-DB')?.name).toBe('rafdb')
    expect(findModel('affectnet-7')?.name).toBe('affectnet7')
    expect(findModel('CAER-S')?.name).toBe('caers')
    expect(findModel('')).toBeUndefined()
    expect(() => getModel('fer')).toThrow(/unknown model "fer".*rafdb, affectnet7, affectnet8, caers/)
  })
})

describe('cache folder', () => {
  it('prefers POSTER_CACHE, then XDG_CACHE_HOME/poster, then ~/.cache/poster', () => {
    expect(cacheDir({POSTER_CACHE: '/tmp/pc', XDG_CACHE_HOME: '/tmp/xdg'})).toBe(resolve('/tmp/pc'))
    expect(cacheDir({POSTER_CACHE: '', XDG_CACHE_HOME: '/tmp/xdg'})).toBe(resolve('/tmp/xdg/poster'))
    expect(cacheDir({})).toBe(join(homedir(), '.cache', 'poster'))
    expect(cacheDir({POSTER_CACHE: '~/pc'})).toBe(join(homedir(), 'pc'))
  })

  it('names the cached files', () => {
    expect(checkpointPath('rafdb', '/c')).toBe(join('/c', 'rafdb.pth'))
    expect(onnxPath('rafdb', '/c')).toBe(join('/c', 'rafdb.onnx'))
  })
})
