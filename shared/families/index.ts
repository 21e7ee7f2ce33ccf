export * from './types';
export { getFamily, familyNames } from './registry';
export { loadLayersModel, saveLayersModel } from './tfjs-io';
export { MODEL_META } from './dense/replica';
