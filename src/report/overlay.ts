/**
 * Overlays: the SVG drawn over an input image (each face's box, alignment points, 68 landmarks and predicted
 * label) and the overlay file names of a run's inputs. Used by predict on images and on video frames.
 */
import path from 'node:path'

import {fnv1a32} from '../datasets/shard.js'
import type {DatasetItem} from '../datasets/types.js'
import {escapeXml} from './xml.js'

/**
 * Overlay file names, one per discovered input: `<name without extension>.png`, and when two inputs would get the
 * same name (same base name in different folders, or a.jpg next to a.png) each of them gets `-<8 hex digits of
 * the path's hash>` added. Computed over all inputs before sharding, so shards name files as an unsharded run does.
 */
export function overlayNames(items: ReadonlyArray<Pick<DatasetItem, 'relPath'>>): Map<string, string> {
  const stemOf = (rel: string) => {
    const base = path.posix.basename(rel)
    const ext = path.posix.extname(base)
    return (ext ? base.slice(0, -ext.length) : base) || base
  }
  const groups = new Map<string, string[]>()
  for (const it of items) {
    const key = stemOf(it.relPath).toLowerCase() // case-insensitive file systems would collide too
    groups.set(key, [...(groups.get(key) ?? []), it.relPath])
  }
  const names = new Map<string, string>()
  for (const rels of groups.values()) {
    for (const rel of rels) {
      const stem = stemOf(rel)
      names.set(rel, rels.length === 1 ? `${stem}.png` : `${stem}-${fnv1a32(rel).toString(16).padStart(8, '0')}.png`)
    }
  }
  return names
}

/** What an overlay draws for one face: its label, and when known its box, alignment points and 68 landmarks. */
export interface OverlayFace {
  label: string
  landmarks?: ArrayLike<number>
  box?: {x: number; y: number; w: number; h: number}
  points?: Array<{x: number; y: number}>
}

/** An SVG the size of the image: 68 landmark dots and the predicted label with its confidence, top left. */
export function overlaySvg(width: number, height: number, landmarks: ArrayLike<number> | undefined, label: string): string {
  return facesOverlaySvg(width, height, [{label, landmarks}])
}

/**
 * An SVG the size of the image: per face its box, alignment points (eyes, nose, mouth), 68 landmark dots and the
 * predicted label with its confidence, at the box's top left (at the image's top left for a face without a box).
 */
export function facesOverlaySvg(width: number, height: number, faces: readonly OverlayFace[]): string {
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`]
  for (const f of faces) {
    const side = Math.max(1, f.box ? Math.min(f.box.w, f.box.h) * 2 : Math.min(width, height))
    const r = Math.max(1, side / 110)
    const font = Math.max(8, Math.round(side / 12))
    const pad = Math.max(2, Math.round(font / 4))
    const boxW = Math.min(width, Math.ceil(f.label.length * font * 0.62) + 2 * pad)
    const lx = f.box ? Math.max(0, Math.min(width - boxW, f.box.x)) : 0
    const ly = f.box ? Math.max(0, f.box.y - font - 2 * pad) : 0
    if (f.box) {
      const b = f.box
      parts.push(`<rect x="${b.x.toFixed(2)}" y="${b.y.toFixed(2)}" width="${b.w.toFixed(2)}" height="${b.h.toFixed(2)}" fill="none" stroke="#ffcc00" stroke-width="${Math.max(1, side / 120).toFixed(2)}"/>`)
    }
    parts.push(
      `<rect x="${lx.toFixed(2)}" y="${ly.toFixed(2)}" width="${boxW}" height="${font + 2 * pad}" fill="#000" fill-opacity="0.6"/>`,
      `<text x="${(lx + pad).toFixed(2)}" y="${(ly + pad + font * 0.85).toFixed(2)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#fff">${escapeXml(f.label)}</text>`,
    )
    const lm = f.landmarks
    if (lm) {
      for (let i = 0; i + 1 < lm.length; i += 2) {
        const x = lm[i]!
        const y = lm[i + 1]!
        if (!Number.isFinite(x) || !Number.isFinite(y)) continue
        parts.push(`<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="${r.toFixed(2)}" fill="#00ff66" stroke="#003311" stroke-width="${(r / 3).toFixed(2)}"/>`)
      }
    }
    for (const p of f.points ?? []) {
      parts.push(`<circle cx="${p.x.toFixed(2)}" cy="${p.y.toFixed(2)}" r="${(1.8 * r).toFixed(2)}" fill="#ff3366" stroke="#330011" stroke-width="${(r / 3).toFixed(2)}"/>`)
    }
  }
  parts.push('</svg>')
  return parts.join('')
}
