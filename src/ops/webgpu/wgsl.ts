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

/** Most workgroups a program puts on one grid axis (WebGPU guarantees 65,535). */
const AXIS_WORKGROUPS = 32_768;

/**
 * The dispatch of `groups` workgroups numbered y · numWorkgroups.x + x: a second grid axis once they exceed
 * one axis's limit (the last row may run past `groups`).
 */
export function gridDispatch(groups: number): [number, number, number] {
  const x = Math.min(groups, AXIS_WORKGROUPS);
  return [x, Math.ceil(groups / x), 1];
}
