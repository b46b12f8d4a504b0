/** Replaced at bundle time by esbuild's `define`; the fallback serves runs from source. */
declare const __SCIONTOOL_VERSION__: string | undefined;
export const VERSION: string = typeof __SCIONTOOL_VERSION__ === 'string' ? __SCIONTOOL_VERSION__ : '0.0.0-dev';
