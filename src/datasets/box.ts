/** Annotated face boxes as datasets write them. */
import type {FaceBox} from './types.js'

/**
 * A face box from its four cells (x, y, width, height): undefined when they are all missing or empty (the image
 * has no box); a reason when they are only partly given or not numbers. Either way the image stays listed and
 * the face stage turns it into an error row with that reason, so one bad cell never stops a run.
 */
export function parseBox(cells: ReadonlyArray<string | undefined>): {box: FaceBox} | {error: string} | undefined {
  const v = cells.map((c) => (c ?? '').trim())
  if (v.every((c) => c === '')) return undefined
  const nums = v.map(Number)
  if (v.some((c) => c === '') || nums.some((n) => !Number.isFinite(n))) {
    return {error: `face box "${v.join(',')}" is not four numbers (x, y, width, height)`}
  }
  return {box: {x: nums[0]!, y: nums[1]!, w: nums[2]!, h: nums[3]!}}
}

/** Put a parsed box (or its problem) on an item. */
export function withBox<T extends {box?: FaceBox; boxError?: string}>(item: T, parsed: ReturnType<typeof parseBox>): T {
  if (parsed && 'box' in parsed) item.box = parsed.box
  else if (parsed) item.boxError = parsed.error
  return item
}
