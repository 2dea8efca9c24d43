// A strict parser of the Prometheus text exposition format 0.0.4, for the tests: every line must
// be a HELP, a TYPE, a blank line or a well-formed sample of a family declared above it, and each
// histogram must be consistent (cumulative buckets, +Inf bucket = _count). Anything else throws.
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, help: string, type: string, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'], counter: [''], gauge: [''], untyped: [''] }

export function parseExposition (text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families = new Map<string, Family>()
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, i) => {
    const at = `line ${i + 1} (${JSON.stringify(line)})`
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
      if (m === null) throw new Error(`${at}: a comment must be "# HELP name text" or "# TYPE name type"`)
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) throw new Error(`${at}: bad metric name`)
      const family = families.get(name) ?? { name, help: '', type: '', samples: [] }
      if (family.samples.length > 0) throw new Error(`${at}: ${kind} after the family's samples`)
      if (kind === 'HELP') {
        if (family.help !== '') throw new Error(`${at}: second HELP`)
        family.help = rest
      } else {
        if (family.type !== '') throw new Error(`${at}: second TYPE`)
        if (!TYPES.has(rest)) throw new Error(`${at}: unknown type`)
        family.type = rest
      }
      families.set(name, family)
      return
    }
    const sample = parseSample(line, at)
    const family = [...families.values()].find((f) => (SUFFIXES[f.type] ?? []).some((suffix) => f.name + suffix === sample.name))
    if (family === undefined) throw new Error(`${at}: a sample of no family declared above it`)
    family.samples.push(sample)
  })
  for (const family of families.values()) {
    if (family.help === '' || family.type === '') throw new Error(`${family.name}: HELP and TYPE both required`)
    if (family.type === 'counter' && !family.name.endsWith('_total')) throw new Error(`${family.name}: a counter's name ends in _total`)
    if (family.type === 'histogram') checkHistogram(family)
  }
  return families
}

function parseSample (line: string, at: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line)
  if (m === null) throw new Error(`${at}: not a sample line`)
  const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string]
  const labels: Record<string, string> = {}
  if (labelText !== undefined) {
    let rest = labelText.slice(1, -1)
    while (rest.length > 0) {
      const l = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest)
      if (l === null) throw new Error(`${at}: bad label list`)
      const [whole, key, value] = l as unknown as [string, string, string]
      if (!LABEL.test(key) || key.startsWith('__')) throw new Error(`${at}: bad label name ${key}`)
      if (key in labels) throw new Error(`${at}: label ${key} twice`)
      labels[key] = value.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c))
      rest = rest.slice(whole.length)
    }
  }
  let value: number
  if (valueText === '+Inf') value = Infinity
  else if (valueText === '-Inf') value = -Infinity
  else if (valueText === 'NaN') value = Number.NaN
  else if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(valueText)) value = Number(valueText)
  else throw new Error(`${at}: bad value ${valueText}`)
  return { name, labels, value }
}

function checkHistogram (family: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>, count?: number, sum?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const entry = series.get(key) ?? { buckets: [] }
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`)
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value])
    } else if (s.name.endsWith('_count')) entry.count = s.value
    else entry.sum = s.value
    series.set(key, entry)
  }
  for (const [key, entry] of series) {
    const where = `${family.name}${key}`
    if (entry.count === undefined || entry.sum === undefined) throw new Error(`${where}: _count and _sum required`)
    const last = entry.buckets.at(-1)
    if (last === undefined || last[0] !== Infinity || last[1] !== entry.count) throw new Error(`${where}: the last bucket must be le="+Inf" and equal _count`)
    for (let i = 1; i < entry.buckets.length; i++) {
      const [bound, count] = entry.buckets[i] as [number, number]
      const [prevBound, prevCount] = entry.buckets[i - 1] as [number, number]
      if (!(bound > prevBound) || count < prevCount) throw new Error(`${where}: buckets must be in increasing le order with cumulative counts`)
    }
  }
}

/** The one sample of `family` with exactly these labels (besides none), or undefined. */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}, sampleName = name): number | undefined {
  const family = families.get(name)
  const want = JSON.stringify(Object.entries(labels).sort())
  return family?.samples.find((s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value
}
