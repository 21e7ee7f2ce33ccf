/** Backend names, kept apart from the selection code so the CLI can list them without loading tfjs. */
export type BackendName = 'tensorflow' | 'native' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendRequest[] = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'];
