import { loadNativeAddon } from '../../shared/native-addon';

/** Whether this machine built the native backend's addon (and why not). */
export const nativeAddon = loadNativeAddon();

// CI installs oneDNN and builds the addon: there, a missing addon is a failure, not a skip.
if (process.env.CI === 'true' && !nativeAddon.ok) throw new Error(`the native backend must be built on CI: ${nativeAddon.reason}`);

/** The backends every conformance suite runs on: cpu, wasm, and native where it is built. */
export const BACKENDS_UNDER_TEST = ['cpu', 'wasm', ...(nativeAddon.ok ? ['native' as const] : [])] as const;
