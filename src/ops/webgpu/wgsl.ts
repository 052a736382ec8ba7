/** Helpers for writing the fused kernels' WGSL. */

/**
 * `n` statements from `line(i)`, written out. Mesa's llvmpipe (the software adapter CI runs) counts every loop
 * back-edge of an invocation against one budget of 65,535 and silently leaves all loops once it is spent, so
 * per-channel loops are unrolled in the source; on a GPU unrolling also saves the loop overhead.
 */
export function unroll(n: number, line: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => line(i)).join('\n');
}

/** Threads per workgroup of an ElementwiseProgram. */
const ELEMENT_THREADS = 128;

/**
 * A program that computes each output element in its own invocation (flat index `index`), whatever it reads:
 * the dispatch and layout every such program of this folder shares.
 */
export abstract class ElementwiseProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ELEMENT_THREADS, 1, 1];
  size = true;

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    const elements = outputShape.reduce((a, d) => a * d, 1);
    this.dispatch = [Math.ceil(elements / ELEMENT_THREADS), 1, 1];
  }

  abstract getUserCode(): string;

  /** The shader's entry: `body` runs for every output element `index` (declared before it: `helpers`). */
  protected main(body: string, helpers = ''): string {
    return `
    ${helpers}
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      ${body}
    }`;
  }
}

/** Threads per workgroup of a RowProgram. */
const ROW_THREADS = 64;

/**
 * A program that handles each row of its [rows, C] output in one invocation (a LayerNorm's row, a pixel's
 * channels): ⌈rows / ROW_THREADS⌉ workgroups, on a second grid axis once they exceed one axis's limit.
 */
export abstract class RowProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  abstract uniforms: string;
  outputShape: number[];
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ROW_THREADS, 1, 1];

  constructor(rows: number, channels: number) {
    this.outputShape = [rows, channels];
    const groups = Math.ceil(rows / ROW_THREADS);
    const x = Math.min(groups, 32_768);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  abstract getUserCode(): string;

  /** The shader's entry: `body` runs for every `row` below the uniform `rowsUniform`. */
  protected main(rowsUniform: string, body: string): string {
    return `
      fn main() {
        let row = (i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x)) * ${ROW_THREADS} + i32(localId.x);
        if (row >= uniforms.${rowsUniform}) { return; }
        ${body}
      }`;
  }
}
