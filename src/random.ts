/**
 * Random numbers. The generator is MT19937, seeded as PyTorch's CPU
 * generator is, and the draws follow PyTorch's CPU recipes, so after
 * `manualSeed(s)` the streams match `torch.manual_seed(s)`:
 * - rand (float32): the low 24 bits of one 32-bit draw, times 2^-24;
 *   float64 uses 53 bits of a 64-bit draw (two 32-bit draws, first one high);
 * - randn with ≥ 16 elements: uniforms filled first, then Box–Muller on
 *   blocks of 16 (cos for the first 8, sin for the next 8), the last block
 *   redrawn when the size is not a multiple of 16; below 16 elements, one
 *   double-precision Box–Muller pair per two values;
 * - randint: one 32-bit draw modulo the range; randperm: a forward
 *   Fisher–Yates with one 32-bit draw per position.
 */
export class Generator {
  private mt = new Uint32Array(624);
  private mti = 625;
  private nextNormal: number | null = null;
  private seed = 0;

  constructor(seed = 67280421310721) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number | bigint): this {
    // PyTorch truncates the 64-bit seed to 32 bits for mt19937.
    const s = Number(BigInt.asUintN(32, BigInt(seed)));
    this.seed = Number(seed);
    this.mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1]! ^ (this.mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, in 32-bit arithmetic.
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = 624;
    this.nextNormal = null;
    return this;
  }

  initialSeed(): number {
    return this.seed;
  }

  /** One 32-bit unsigned draw. */
  random(): number {
    if (this.mti >= 624) this.twist();
    let y = this.mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
      let v = mt[(i + 397) % 624]! ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.mti = 0;
  }

  /** Uniform in [0, 1) with float32's 24 bits. */
  uniform24(): number {
    return (this.random() & 0xffffff) * 2 ** -24;
  }

  /** Uniform in [0, 1) with float64's 53 bits. */
  uniform53(): number {
    const hi = this.random();
    const lo = this.random();
    // (hi << 32 | lo) & (2^53 - 1) = (hi & 0x1fffff) * 2^32 + lo
    return ((hi & 0x1fffff) * 4294967296 + lo) * 2 ** -53;
  }

  /** One standard normal in double precision (caches the pair's second value). */
  normalDouble(): number {
    if (this.nextNormal !== null) {
      const v = this.nextNormal;
      this.nextNormal = null;
      return v;
    }
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.nextNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  getState(): { mt: number[]; mti: number; nextNormal: number | null; seed: number } {
    return { mt: Array.from(this.mt), mti: this.mti, nextNormal: this.nextNormal, seed: this.seed };
  }

  setState(state: { mt: number[]; mti: number; nextNormal: number | null; seed: number }): this {
    this.mt = Uint32Array.from(state.mt);
    this.mti = state.mti;
    this.nextNormal = state.nextNormal;
    this.seed = state.seed;
    return this;
  }
}

/** The generator used when none is passed. */
export const defaultGenerator = new Generator();

/** Seeds the default generator, like torch.manual_seed. */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

export function fillUniform(
  out: Float32Array | Float64Array,
  low: number,
  high: number,
  gen: Generator,
): void {
  const draw = out instanceof Float64Array ? () => gen.uniform53() : () => gen.uniform24();
  for (let i = 0; i < out.length; i++) out[i] = draw() * (high - low) + low;
}

export function fillNormal(
  out: Float32Array | Float64Array,
  mean: number,
  std: number,
  gen: Generator,
): void {
  const n = out.length;
  if (n < 16) {
    for (let i = 0; i < n; i++) out[i] = gen.normalDouble() * std + mean;
    return;
  }
  const u = out instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  fillUniform(u, 0, 1, gen);
  const boxMuller = (data: Float32Array | Float64Array, start: number) => {
    for (let j = 0; j < 8; j++) {
      const u1 = 1 - data[start + j]!;
      const u2 = data[start + j + 8]!;
      const radius = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      out[start + j] = radius * Math.cos(theta) * std + mean;
      out[start + j + 8] = radius * Math.sin(theta) * std + mean;
    }
  };
  for (let i = 0; i + 16 <= n; i += 16) boxMuller(u, i);
  if (n % 16 !== 0) {
    // Redraw the last 16 uniforms and recompute that block, as PyTorch does.
    const start = n - 16;
    const tail = out instanceof Float64Array ? new Float64Array(16) : new Float32Array(16);
    fillUniform(tail, 0, 1, gen);
    const data = u.slice();
    data.set(tail, start);
    boxMuller(data, start);
  }
}
