/** Plain progress lines for CI logs (stderr not a terminal): how often, what they say, the last one. */
import {describe, expect, it} from 'vitest'

import {progressLines} from '../../src/cli/shared.js'

function clocked(intervalSeconds: number) {
  let t = 100
  const lines: string[] = []
  const p = progressLines('images', (l) => lines.push(l), {intervalSeconds, now: () => t})
  return {p, lines, advance: (s: number) => (t += s)}
}

describe('progressLines', () => {
  it('one line when work starts, then at most one per interval, with rate and ETA from this run only', () => {
    const {p, lines, advance} = clocked(10)
    p.update(50, 250) // a resumed run: 50 already done
    expect(lines).toEqual(['progress 50/250 images (20.0%)'])
    advance(4)
    p.update(70, 250)
    expect(lines).toHaveLength(1) // 4 s < 10 s
    advance(6)
    p.update(100, 250) // 50 images in 10 s: 5/s, 150 left: 30 s
    expect(lines.at(-1)).toBe('progress 100/250 images (40.0%), 5.0 images/s, ETA 30s')
    advance(100)
    p.update(250, 250)
    expect(lines.at(-1)).toBe('progress 250/250 images (100.0%), 1.8 images/s')
    p.stop()
    expect(lines).toHaveLength(3) // the last count was already said
  })

  it('stop() says the final count when the last update fell inside an interval', () => {
    const {p, lines, advance} = clocked(10)
    p.update(0, 3)
    advance(2)
    p.update(3, 3)
    expect(lines).toHaveLength(1)
    p.stop()
    expect(lines.at(-1)).toBe('progress 3/3 images (100.0%), 1.5 images/s')
  })

  it('nothing at all when no work was reported', () => {
    const {p, lines} = clocked(10)
    p.stop()
    expect(lines).toEqual([])
  })

  it('hours and minutes in long ETAs', () => {
    const {p, lines, advance} = clocked(0)
    p.update(0, 100000)
    advance(10)
    p.update(10, 100000)
    expect(lines.at(-1)).toBe('progress 10/100000 images (0.0%), 1.0 images/s, ETA 27h 46m')
  })
})
