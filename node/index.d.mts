// Types of the ES module entry (index.mjs): those of index.d.ts.
export * from './index.js'
import * as graphmailer from './index.js'
export default graphmailer
