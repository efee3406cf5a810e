export * from './registry.js'
export * from './cache.js'
export * from './download.js'
export * from './resolve.js'
