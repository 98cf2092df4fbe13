// vaelab.explore's bundle: anywidget's entry point (default export) and, for pages without a
// kernel, mountStatic; makeDecoder for the benchmark and the tests.
import { mountStatic, render } from "./widget.js";

export { makeDecoder } from "./decoder.js";
export { mountStatic, render };
export default { render };
