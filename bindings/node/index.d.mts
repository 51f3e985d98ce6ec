// Types of the ES module entry point: the same as the CommonJS one.
export * from './index.js';
import * as api from './index.js';
export default api;
